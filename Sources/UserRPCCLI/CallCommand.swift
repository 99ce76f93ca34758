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
              user-rpc call UpdateUser --service user.v2 --id 3f1c… --email new@example.com --expected-version 1
              user-rpc call user.v2.UserService/DeleteUser --id 3f1c…
              echo '{"id":"…"}' | user-rpc call GetUser --json -
              user-rpc call health.v1.Health/Watch

            A server-streaming method (Watch) prints each message as one line of JSON as it comes, until
            the stream ends or the command is interrupted; its deadline is --timeout when given, else none.
            """)

    @Argument(help: "The method: a name from 'user-rpc list' (GetUser) or a full name (user.v1.UserService/GetUser).")
    var method: String

    @OptionGroup var serviceChoice: ServiceChoice

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Call deadline, e.g. 5s or 250ms (sent as timeout_ms); default 30s, none for a streaming method.")
    var timeout: String?

    @Option(name: .customShort("H"), help: "Metadata entry key:value; may repeat.")
    var header: [String] = []

    @Option(help: "The whole request payload as a JSON object, or - to read it from standard input.")
    var json: String?

    @Argument(parsing: .allUnrecognized, help: "Request fields as --field value, from the method's schema.")
    var fieldArguments: [String] = []

    func run() async throws {
        let client = UserRPCClient(configuration: try connection.configuration())
        defer { Task { await client.close() } }
        // The server's own schema, through reflection; the built-in one when it offers none.
        let reflected: (schema: ServiceSchema, method: ServiceSchema.Method)?
        do {
            reflected = try await RemoteSchemas.method(named: method, choice: serviceChoice, client: client)
        } catch is UserRPCError {
            // The server cannot be asked (unreachable, a token missing): the call itself will say why.
            reflected = nil
        }
        let (schema, schemaMethod) = try reflected ?? serviceChoice.method(named: method)
        let payload = try RequestPayload.read(json: json, fieldArguments: fieldArguments, fields: schema.fields(of: schemaMethod.request))
        var options = UserRPCClient.CallOptions()
        if let timeout {
            guard let duration = Duration(text: timeout), duration > .zero else { throw ValidationError("timeout '\(timeout)' is not a duration") }
            options.timeout = duration
        } else if !schemaMethod.isServerStreaming {
            options.timeout = .seconds(30)
        }
        for entry in header {
            guard let colon = entry.firstIndex(of: ":") else { throw ValidationError("metadata '\(entry)' is not key:value") }
            options.metadata[String(entry[..<colon])] = String(entry[entry.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        do {
            if schemaMethod.isServerStreaming {
                for try await message in try client.stream(method: schemaMethod.fullName, payload: payload, options: options) {
                    var line = JSONWriter()
                    line.value(.object(message))
                    FileHandle.standardOutput.write(Data(line.bytes + [UInt8(ascii: "\n")]))
                }
                return
            }
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
}

/// Where and how to connect: shared by `call` and `bench`.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Server address host:port, or several separated by commas (env USER_RPC_ADDRESS; default 127.0.0.1:50051).")
    var address: String?

    @Flag(help: "Connect with TLS.")
    var tls = false

    @Option(help: "PEM CA bundle to trust for the server's certificate (implies --tls).")
    var ca: String?

    @Option(help: "PEM client certificate, for servers that require one (implies --tls).")
    var cert: String?

    @Option(help: "PEM private key of --cert.")
    var key: String?

    @Option(help: "Name to verify the server certificate against (default: the host).")
    var serverName: String?

    /// With `--address` given, the schemas the server hosts (through reflection); `nil` without it.
    func remoteSchemas() async throws -> [ServiceSchema]? {
        guard address != nil else { return nil }
        let client = UserRPCClient(configuration: try configuration())
        defer { Task { await client.close() } }
        do {
            return try await RemoteSchemas.all(from: client)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
            throw ExitCode(Int32(100 + error.code.numericValue))
        }
    }

    /// The client configuration: address, TLS, and a bearer token from `USER_RPC_TOKEN`.
    func configuration() throws -> UserRPCClient.Configuration {
        var configuration = try ServerAddress.configuration(address)
        if tls || ca != nil || cert != nil {
            guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
            configuration.tls = UserRPCClient.TLS(trustedCAPath: ca, certificatePath: cert, privateKeyPath: key, serverHostname: serverName)
        }
        return configuration
    }
}

/// Reads `host:port` (or `[v6]:port`), or several of them separated by commas (a fleet: calls go
/// round robin), with the `USER_RPC_ADDRESS` fallback.
enum ServerAddress {
    static func configuration(_ flag: String?) throws -> UserRPCClient.Configuration {
        let environment = ProcessInfo.processInfo.environment
        let text = flag ?? environment["USER_RPC_ADDRESS"] ?? "127.0.0.1:50051"
        var endpoints: [UserRPCClient.Endpoint] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let endpoint = UserRPCClient.Endpoint(item) else { throw ValidationError("address '\(item)' is not host:port") }
            endpoints.append(endpoint)
        }
        var configuration = UserRPCClient.Configuration(endpoints: endpoints)
        // A bearer token from the environment (never a flag: `ps` would show it).
        if let token = environment["USER_RPC_TOKEN"], !token.isEmpty { configuration.bearerToken = token }
        return configuration
    }
}
