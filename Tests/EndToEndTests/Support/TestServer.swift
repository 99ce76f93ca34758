import Logging
import NIOCore
import NIOPosix
import UserCore
import UserRPCClient
import UserRPCServer

/// A live server on an ephemeral loopback port, for one test.
struct TestServer {
    let server: UserRPCServer
    let port: Int
    private let runTask: Task<Void, any Error>

    /// Starts a server over `repository` (the embedded store by default).
    static func start(
        repository: UserRepository = UserRepository(store: InMemoryUserStore()),
        configure: (inout UserRPCServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = UserRPCServerConfiguration.defaults { $0.port = 0 }
        configure(&configuration)
        var logger = Logger(label: "test-server")
        logger.logLevel = .critical
        let server = UserRPCServer(configuration: configuration, repository: repository, logger: logger)
        let runTask = Task { try await server.run() }
        let address = try await server.listeningAddress
        return TestServer(server: server, port: address.port!, runTask: runTask)
    }

    /// A client of this server.
    func client(timeout: Duration? = .seconds(10)) -> UserRPCClient {
        var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: port)
        configuration.defaultTimeout = timeout
        return UserRPCClient(configuration: configuration)
    }

    /// A raw framed connection, for speaking the protocol byte by byte.
    func rawConnection() async throws -> RawConnection {
        try await RawConnection.connect(port: port)
    }

    /// Begins a graceful shutdown and waits until the server has stopped.
    func stop() async throws {
        server.beginGracefulShutdown()
        try await runTask.value
    }

    /// Waits for `run()` to return (after a shutdown began elsewhere).
    func waitUntilStopped() async throws {
        try await runTask.value
    }
}

/// Runs `body`, failing with `TimeoutError` if it takes longer than `seconds`: a bound, not a synchronisation.
func withTimeout<T: Sendable>(seconds: Double = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimeoutError(seconds: seconds) }
        return value
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "timed out after \(seconds) s" }
}
