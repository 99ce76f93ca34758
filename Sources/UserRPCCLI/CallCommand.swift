import ArgumentParser
import Foundation
import StrictJSON
import UserRPCClient
import UserRPCWire
import UserV1

/// `user-rpc call METHOD [--field value …]`: one call, with flags taken from the method's request schema.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method; its request fields become flags (see 'user-rpc describe METHOD').",
        discussion: """
            Examples:
              user-rpc call RegisterUser --username ada --email ada@example.com
              user-rpc call GetUser --id 3f1c0b7e-8d2a-7c4e-9b1a-2f6d5e4c3b2a
              user-rpc call SearchUsers --username a --limit 5
              echo '{"id":"…"}' | user-rpc call GetUser --json -
            """)

    @Argument(help: "The method: a name from 'user-rpc list' (GetUser) or a full name (user.v1.UserService/GetUser).")
    var method: String

    @Option(help: "Server address host:port (env USER_RPC_ADDRESS; default 127.0.0.1:50051).")
    var address: String?

    @Option(help: "Call deadline, e.g. 5s or 250ms (sent as timeout_ms).")
    var timeout: String?

    @Option(name: .customShort("H"), help: "Metadata entry key:value; may repeat.")
    var header: [String] = []

    @Option(help: "The whole request payload as a JSON object, or - to read it from standard input.")
    var json: String?

    @Argument(parsing: .allUnrecognized, help: "Request fields as --field value, from the method's schema.")
    var fieldArguments: [String] = []

    func run() async throws {
        let schema = UserV1Schema.embedded
        guard let schemaMethod = schema.method(named: method) else {
            throw ValidationError("unknown method '\(method)'; known: \(schema.methods.map(\.name).joined(separator: ", "))")
        }
        let payload = try requestPayload(fields: schema.fields(of: schemaMethod.request))
        var options = UserRPCClient.CallOptions()
        if let timeout {
            guard let duration = Duration(text: timeout) else { throw ValidationError("timeout '\(timeout)' is not a duration") }
            options.timeout = duration
        }
        for entry in header {
            guard let colon = entry.firstIndex(of: ":") else { throw ValidationError("metadata '\(entry)' is not key:value") }
            options.metadata[String(entry[..<colon])] = String(entry[entry.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        let client = UserRPCClient(configuration: try ServerAddress.configuration(address))
        defer { Task { await client.close() } }
        do {
            let response = try await client.call(method: schemaMethod.fullName, payload: payload, options: options)
            print(JSONValue.object(response).prettyText())
        } catch {
            var text = "error: \(error.code.rawValue)"
            if !error.message.isEmpty { text += ": \(error.message)" }
            if let details = error.details { text += "\ndetails: \(JSONValue.object(details).prettyText())" }
            FileHandle.standardError.write(Data((text + "\n").utf8))
            throw ExitCode(Int32(100 + error.code.numericValue))
        }
    }

    /// The payload from `--json`, or from the field flags checked against the schema.
    private func requestPayload(fields: [UserV1Schema.Field]) throws -> JSONObject {
        if let json {
            guard fieldArguments.isEmpty else { throw ValidationError("use either --json or field flags, not both") }
            let text = json == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : json
            let value: JSONValue
            do {
                value = try JSONParser().parse(text)
            } catch {
                throw ValidationError("--json is not valid JSON: \(error)")
            }
            guard case .object(let object) = value else { throw ValidationError("--json must be a JSON object") }
            return object
        }
        var payload = JSONObject()
        var remaining = fieldArguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument '\(argument)'") }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            let fieldName = name.replacingOccurrences(of: "-", with: "_")
            guard let field = fields.first(where: { $0.name == fieldName }) else {
                let known = fields.map { "--" + $0.name.replacingOccurrences(of: "_", with: "-") }.joined(separator: ", ")
                throw ValidationError("unknown flag '--\(name)' for this method; its fields are: \(known)")
            }
            if value == nil { value = remaining.popFirst() }
            guard let value else { throw ValidationError("--\(name) needs a value") }
            guard payload[field.name] == nil else { throw ValidationError("--\(name) is given twice") }
            payload[field.name] = try Self.jsonValue(value, for: field)
        }
        return payload
    }

    private static func jsonValue(_ text: String, for field: UserV1Schema.Field) throws -> JSONValue {
        switch field.type {
        case "string":
            return .string(text)
        case "integer":
            guard let int = Int(text) else { throw ValidationError("--\(field.name) must be an integer, not '\(text)'") }
            return .number(String(int))
        case "number":
            guard Double(text) != nil, let value = try? JSONParser().parse(text), case .number = value else {
                throw ValidationError("--\(field.name) must be a number, not '\(text)'")
            }
            return value
        case "boolean":
            guard let bool = Bool(text) else { throw ValidationError("--\(field.name) must be true or false") }
            return .bool(bool)
        default:
            // Arrays and objects are given as JSON text.
            do {
                return try JSONParser().parse(text)
            } catch {
                throw ValidationError("--\(field.name) must be JSON: \(error)")
            }
        }
    }
}

/// Reads `host:port` (or `[v6]:port`), with the `USER_RPC_ADDRESS` fallback.
enum ServerAddress {
    static func configuration(_ flag: String?) throws -> UserRPCClient.Configuration {
        let text = flag ?? ProcessInfo.processInfo.environment["USER_RPC_ADDRESS"] ?? "127.0.0.1:50051"
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { throw ValidationError("address '\(text)' is not host:port") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("address '\(text)' has no host") }
        return UserRPCClient.Configuration(host: host, port: port)
    }
}
