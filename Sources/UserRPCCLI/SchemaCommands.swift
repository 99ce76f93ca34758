import ArgumentParser
import StrictJSON
import UserRPCClient

/// `user-rpc list`: the methods of the services this build knows, or (with `--address`) of the
/// services a server hosts, asked through reflection.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the services' methods: built in, or a server's (with --address, through reflection).")

    @OptionGroup var serviceChoice: ServiceChoice

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let known = try await connection.remoteSchemas() ?? UserRPCClient.knownServices
        for schema in try serviceChoice.schemas(among: known) {
            for method in schema.methods {
                print("\(method.fullName)  (\(method.request)) returns (\(method.isServerStreaming ? "stream " : "")\(method.response))")
            }
        }
    }
}

/// `user-rpc describe METHOD`: a method's request and response messages, from the built-in schemas
/// or (with `--address`) a server's.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a method's request and response messages, or a message's schema.")

    @Argument(help: "A method (GetUser, or user.v2.UserService/GetUser) or a message name (User).")
    var name: String

    @OptionGroup var serviceChoice: ServiceChoice

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let known = try await connection.remoteSchemas() ?? UserRPCClient.knownServices
        let schemas = name.contains("/") ? known : try serviceChoice.schemas(among: known)
        let schema = schemas.first { $0.method(named: name) != nil || $0.messages[name] != nil } ?? schemas[0]
        if let method = schema.method(named: name) {
            print("\(method.fullName)")
            if !method.description.isEmpty { print("  \(method.description)") }
            print("\nrequest \(method.request):")
            printFields(schema.fields(of: method.request))
            print(method.isServerStreaming ? "\nresponse: a stream of \(method.response):" : "\nresponse \(method.response):")
            printFields(schema.fields(of: method.response))
        } else if let message = schema.messages[name] {
            print(JSONValue.object(message).prettyText())
        } else {
            throw ValidationError("no method or message named '\(name)'")
        }
    }

    private func printFields(_ fields: [ServiceSchema.Field]) {
        if fields.isEmpty { print("  (no fields)") }
        for field in fields {
            let flag = "--" + field.name.replacingOccurrences(of: "_", with: "-")
            let required = field.isRequired ? "required" : "optional"
            print("  \(field.name)  \(field.type), \(required)  [\(flag)]  \(field.description)")
        }
    }
}
