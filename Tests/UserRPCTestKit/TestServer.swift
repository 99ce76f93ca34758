import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import UserCacheRedis
import UserCore
import UserRPCClient
import UserRPCServer
import UserService
import UserStorePostgres
import UserStoreSQLite

/// A live server on an ephemeral loopback port, for one test.
public struct TestServer: Sendable {
    public let server: UserRPCServer
    public let port: Int
    public let repository: UserRepository
    /// The test's own database, with the postgres+redis backend.
    public let database: TestDatabase?
    private let runTask: Task<Void, any Error>
    private let resources: Resources

    /// What the server holds besides its run task: the clients it made, and the clean-up of its
    /// backend, done once.
    private final class Resources: Sendable {
        private struct State {
            var clients: [UserRPCClient] = []
            var cleanup: (@Sendable () async -> Void)?
        }
        private let state: NIOLockedValueBox<State>

        init(cleanup: @escaping @Sendable () async -> Void) {
            state = NIOLockedValueBox(State(cleanup: cleanup))
        }

        func add(_ client: UserRPCClient) {
            state.withLockedValue { $0.clients.append(client) }
        }

        func closeClients() async {
            let clients = state.withLockedValue { state in
                defer { state.clients = [] }
                return state.clients
            }
            for client in clients { await client.close() }
        }

        /// The backend's clean-up, the first time only.
        func cleanUp() async {
            let cleanup = state.withLockedValue { state in
                defer { state.cleanup = nil }
                return state.cleanup
            }
            await cleanup?()
        }
    }

    /// Starts a server on `backend`: the embedded store, or PostgreSQL (a fresh database of its own)
    /// with the shared Redis as cache.
    public static func start(
        backend: Backend,
        configure: (inout UserRPCServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        switch backend {
        case .embedded:
            return try await start(repository: UserRepository(store: InMemoryUserStore()), configure: configure)
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-test-\(UUID().uuidString)").path
            let store = try SQLiteUserStore(configuration: .init(dataDirectory: directory))
            return try await start(repository: UserRepository(store: store), configure: configure) {
                await store.shutdown()
                try? FileManager.default.removeItem(atPath: directory)
            }
        case .postgresRedis:
            let urls = try TestServices.urls()
            let database = try await TestDatabase.create(baseURL: urls.database)
            let store = PostgresUserStore(configuration: .init(url: database.url))
            _ = try await store.migrate()
            try await store.startChangeFeed()
            var cacheConfiguration = try RedisUserCacheConfiguration(url: urls.redis)
            // Production fails fast (50 ms); a test of what the cache holds must not depend on how
            // fast a loaded machine (or a sanitizer) answers.
            cacheConfiguration.timeout = .seconds(5)
            let cache = RedisUserCache(configuration: cacheConfiguration)
            return try await start(repository: UserRepository(store: store, cache: cache), database: database, configure: configure) {
                await store.shutdown()
                await cache.shutdown()
                await database.drop()
            }
        }
    }

    /// Starts a server over `repository` (the embedded store by default) as the binary makes it
    /// (``UserRPCApplication``: the user services over `operations`, made from the repository by
    /// default, and a health service probing the repository's store and cache), or one hosting
    /// `replacement`, a test's own services; with `extraServices` either way.
    public static func start(
        repository: UserRepository = UserRepository(store: InMemoryUserStore()),
        operations: UserOperations? = nil,
        extraServices: [any RPCService] = [],
        services replacement: [any RPCService]? = nil,
        interceptors: [any ServerInterceptor] = [],
        database: TestDatabase? = nil,
        logger: Logger? = nil,
        configure: (inout UserRPCServerConfiguration) -> Void = { _ in },
        cleanup: @escaping @Sendable () async -> Void = {}
    ) async throws -> TestServer {
        var configuration = UserRPCServerConfiguration.defaults { $0.port = 0 }
        configure(&configuration)
        let logger =
            logger
            ?? {
                var quiet = Logger(label: "test-server")
                quiet.logLevel = .critical
                return quiet
            }()
        let server: UserRPCServer
        if let replacement {
            server = try UserRPCServer(
                configuration: configuration, services: replacement + extraServices, interceptors: interceptors, logger: logger)
        } else {
            server = try UserRPCApplication.makeServer(
                configuration: configuration, operations: operations ?? UserOperations(repository: repository), storeName: "store",
                cacheName: "cache",
                extraServices: extraServices, interceptors: interceptors, logger: logger)
        }
        let runTask = Task { try await server.run() }
        let address = try await server.listeningAddress
        return TestServer(
            server: server, port: address.port!, repository: repository, database: database, runTask: runTask,
            resources: Resources(cleanup: cleanup))
    }

    /// A client of this server. A test closes it when it is done with it; ``scoped(_:)`` closes any
    /// it did not (a test that threw), before it stops the server.
    public func client(timeout: Duration? = .seconds(10)) -> UserRPCClient {
        var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: port)
        configuration.defaultTimeout = timeout
        let client = UserRPCClient(configuration: configuration)
        resources.add(client)
        return client
    }

    /// A raw framed connection, for speaking the protocol byte by byte.
    public func rawConnection() async throws -> RawConnection {
        try await RawConnection.connect(port: port)
    }

    /// Begins a graceful shutdown and waits until the server has stopped. Stopping a stopped server
    /// does nothing more (``scoped(_:)`` stops it again after a test that stopped it itself).
    public func stop() async throws {
        server.beginGracefulShutdown()
        try await runTask.value
        await resources.cleanUp()
    }

    /// Waits for `run()` to return (after a shutdown began elsewhere).
    public func waitUntilStopped() async throws {
        try await runTask.value
        await resources.cleanUp()
    }
}

/// Runs `body` with a server started on `backend` (see ``TestServer/start(backend:configure:)``),
/// then stops it, whether `body` returns or throws: a failing test never leaks a server.
public func withTestServer<T>(
    backend: Backend = .embedded,
    configure: (inout UserRPCServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    try await TestServer.start(backend: backend, configure: configure).scoped(body)
}

/// Runs `body` with `count` servers, server `index` started by `start(index)`, then stops them all,
/// whether `body` returns or throws (and those already started when a later one fails to start).
public func withTestServers<T>(
    _ count: Int, start: (Int) async throws -> TestServer, body: ([TestServer]) async throws -> T
) async throws -> T {
    func nest(_ started: [TestServer]) async throws -> T {
        guard started.count < count else { return try await body(started) }
        return try await start(started.count).scoped { server in try await nest(started + [server]) }
    }
    return try await nest([])
}

extension TestServer {
    /// Runs `body` with this server, then closes the clients it made and stops it, whether `body`
    /// returns or throws.
    public func scoped<T>(_ body: (TestServer) async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await body(self)
        } catch {
            await resources.closeClients()
            try? await stop()
            throw error
        }
        await resources.closeClients()
        try await stop()
        return result
    }
}

/// Runs `body`, failing with `TimeoutError` if it takes longer than `seconds`: a bound, not a synchronisation.
public func withTimeout<T: Sendable>(seconds: Double = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
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

public struct TimeoutError: Error, CustomStringConvertible {
    public let seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
    public var description: String { "timed out after \(seconds) s" }
}
