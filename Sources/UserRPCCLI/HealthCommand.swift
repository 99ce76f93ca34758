import ArgumentParser
import Foundation
import HealthV1
import UserRPCClient

/// `user-rpc health`: a probe for containers and orchestrators.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Ask a server whether it is serving (health.v1.Health/Check); exits 0 only when it is.",
        discussion: """
            Prints the status (SERVING, NOT_SERVING or UNKNOWN_SERVICE) and, when a dependency is down, why.
            Exit status: 0 SERVING, 1 NOT_SERVING, 2 UNKNOWN_SERVICE, 100 + the gRPC status number when the
            call fails (114 UNAVAILABLE when the server cannot be reached or is shutting down). Needs no token.

            Example (a container health check):
              user-rpc health --address 127.0.0.1:50051 --timeout 2s

            With --watch (health.v1.Health/Watch): prints the status at once, then a line per change, until
            interrupted or the server ends the watch; exits 0 when the server ended it (after reporting its
            shutdown), 100 + the status number when the call failed. --timeout does not apply to a watch.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "A full service name to check (user.v1.UserService); default: the whole server.")
    var service: String?

    @Option(help: "How long to wait for the answer, e.g. 2s or 500ms.")
    var timeout: String = "5s"

    @Flag(help: "Watch the status (health.v1.Health/Watch): print each change until interrupted.")
    var watch = false

    func run() async throws {
        guard let duration = Duration(text: timeout), duration > .zero else { throw ValidationError("timeout '\(timeout)' is not a duration") }
        let client = UserRPCClient(configuration: try connection.configuration())
        defer { Task { await client.close() } }
        if watch { return try await watchHealth(client) }
        let response: HealthCheckResponse
        do {
            response = try await client.checkHealth(service: service, options: .init(timeout: duration))
        } catch {
            FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
            throw ExitCode(Int32(100 + error.code.numericValue))
        }
        print(response.status.rawValue + (response.detail.map { " (\($0))" } ?? ""))
        switch response.status {
        case .serving: return
        case .notServing: throw ExitCode(1)
        case .unknownService: throw ExitCode(2)
        }
    }

    /// Prints each status of the watch as it comes.
    private func watchHealth(_ client: UserRPCClient) async throws {
        do {
            for try await response in client.health.watch(service: service) {
                // Written at once (not buffered), so that a pipe sees each change as it happens.
                FileHandle.standardOutput.write(Data((response.status.rawValue + (response.detail.map { " (\($0))" } ?? "") + "\n").utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
            throw ExitCode(Int32(100 + error.code.numericValue))
        }
    }
}
