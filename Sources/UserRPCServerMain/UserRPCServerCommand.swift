import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UserCore
import UserRPCServer
import UserRPCWire

/// `user-rpc-server`: parses the configuration, starts the server, and waits for SIGTERM or SIGINT.
@main
struct UserRPCServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-rpc-server",
        abstract: "Serves user.v1.UserService over the framed JSON protocol (docs/PROTOCOL.md).",
        discussion: """
            Each option falls back to an environment variable, then to its default.
            With no database configured, users live in an embedded in-memory store and are lost on exit.
            """)

    @Option(help: "Address to bind (env USER_RPC_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "TCP port; 0 picks a free one (env USER_RPC_PORT; default 50051).")
    var port: Int?

    @Option(help: "Largest frame body in bytes (env USER_RPC_MAX_FRAME_BYTES; default 4194304).")
    var maxFrameBytes: Int?

    @Option(help: "Time for in-flight calls to finish on shutdown, e.g. 10s, 500ms (env USER_RPC_GRACE_PERIOD; default 10s).")
    var gracePeriod: String?

    @Option(help: "Calls in flight per connection (env USER_RPC_MAX_CONCURRENT_CALLS; default 1000).")
    var maxConcurrentCalls: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical (env USER_RPC_LOG_LEVEL; default info).")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ name: String) -> String? { flag ?? environment[name] }

        let levelText = setting(logLevel, "USER_RPC_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("unknown log level '\(levelText)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "user-rpc-server")

        var configuration = UserRPCServerConfiguration()
        if let host = setting(host, "USER_RPC_HOST") { configuration.host = host }
        if let text = port.map(String.init) ?? environment["USER_RPC_PORT"] {
            guard let value = Int(text), (0...65535).contains(value) else { throw ValidationError("port must be 0...65535, not '\(text)'") }
            configuration.port = value
        }
        if let text = maxFrameBytes.map(String.init) ?? environment["USER_RPC_MAX_FRAME_BYTES"] {
            guard let value = Int(text), value >= 64, value <= Int(UInt32.max) else {
                throw ValidationError("max frame bytes must be 64...\(UInt32.max), not '\(text)'")
            }
            configuration.maxFrameBytes = value
        }
        if let text = setting(gracePeriod, "USER_RPC_GRACE_PERIOD") {
            guard let value = Duration(text: text) else { throw ValidationError("grace period '\(text)' is not a duration") }
            configuration.gracePeriod = value
        }
        if let text = maxConcurrentCalls.map(String.init) ?? environment["USER_RPC_MAX_CONCURRENT_CALLS"] {
            guard let value = Int(text), value >= 1 else { throw ValidationError("max concurrent calls must be at least 1, not '\(text)'") }
            configuration.maxConcurrentCallsPerConnection = value
        }

        let repository = UserRepository(store: InMemoryUserStore())
        logger.info(
            "starting user-rpc-server",
            metadata: [
                "store": "embedded in-memory (data is lost on exit)", "cache": "none", "host": "\(configuration.host)",
                "port": "\(configuration.port)",
            ])
        let server = UserRPCServer(configuration: configuration, repository: repository, logger: logger)
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
