import Foundation
import Testing
import UserCacheRedis
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserStorePostgres

/// Two servers on one PostgreSQL and one Redis: a change made through one is never read old through
/// the other from the shared cache.
@Suite("A fleet sharing one cache", .serialized)
struct FleetCacheTests {
    /// Two servers on one fresh database, each with its own Redis cache client (on `redisPorts`).
    struct Fleet {
        let database: TestDatabase
        let stores: [PostgresUserStore]
        let caches: [RedisUserCache]
        let servers: [TestServer]
        let clients: [UserRPCClient]

        static func start(redisPorts: [Int], retryInterval: Duration = .seconds(1)) async throws -> Fleet {
            let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
            var stores: [PostgresUserStore] = []
            var caches: [RedisUserCache] = []
            var servers: [TestServer] = []
            for port in redisPorts {
                let store = PostgresUserStore(configuration: .init(url: database.url))
                _ = try await store.migrate()
                var configuration = try RedisUserCacheConfiguration(url: "redis://127.0.0.1:\(port)")
                configuration.retryInterval = retryInterval
                configuration.timeout = .seconds(5)
                let cache = RedisUserCache(configuration: configuration)
                stores.append(store)
                caches.append(cache)
                servers.append(try await TestServer.start(repository: UserRepository(store: store, cache: cache)))
            }
            return Fleet(database: database, stores: stores, caches: caches, servers: servers, clients: servers.map { $0.client() })
        }

        func stop() async throws {
            for client in clients { await client.close() }
            for server in servers { try await server.stop() }
            for store in stores { await store.shutdown() }
            for cache in caches { await cache.shutdown() }
            await database.drop()
        }
    }

    static func redisPort() throws -> Int {
        let url = try TestServices.urls().redis
        return try RedisUserCacheConfiguration(url: url).port
    }

    @Test("updated through one server, read through the other at once: the new value; deleted: NOT_FOUND")
    func changeThroughOneReadThroughOther() async throws {
        let port = try Self.redisPort()
        let fleet = try await Fleet.start(redisPorts: [port, port])
        let (a, b) = (fleet.clients[0], fleet.clients[1])
        for round in 0..<20 {
            let user = try await a.v2.registerUser(username: "fleet\(round)", email: "fleet\(round)@example.com")
            // B reads it (from the cache the registration primed), then A changes it, then B reads again.
            #expect(try await b.v2.getUser(id: user.id) == user)
            let changed = try await a.v2.updateUser(id: user.id, email: "changed\(round)@example.com")
            #expect(try await b.v2.getUser(id: user.id) == changed, "round \(round)")
            #expect(try await b.getUser(id: user.id).email == changed.email)
            try await a.v2.deleteUser(id: user.id)
            #expect(await #expect(throws: UserRPCError.self) { try await b.v2.getUser(id: user.id) }?.code == .notFound)
        }
        try await fleet.stop()
    }

    @Test("Redis stopped during an update: the update succeeds, and after Redis is back the other server reads the new value")
    func redisStoppedDuringUpdate() async throws {
        let redisEnvironment = ["REDIS_PORT": "16392", "SERVICES_DIR": FaultTests.faultDirectory + "/redis-fleet"]
        try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
        let fleet = try await Fleet.start(redisPorts: [16392, 16392], retryInterval: .milliseconds(100))
        let (a, b) = (fleet.clients[0], fleet.clients[1])
        let user = try await a.v2.registerUser(username: "outage", email: "outage@example.com")
        #expect(try await b.v2.getUser(id: user.id) == user)
        try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
        let changed = try await a.v2.updateUser(id: user.id, email: "during@example.com")
        #expect(changed.version == 2)
        #expect(try await b.v2.getUser(id: user.id) == changed)
        try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
        for _ in 0..<20 { #expect(try await b.v2.getUser(id: user.id) == changed) }
        try await fleet.stop()
        try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
    }

    @Test("a server cut off from Redis during an update: once it reaches Redis again, it deletes the old entry by itself")
    func partitionedServerCatchesUp() async throws {
        let port = try Self.redisPort()
        let proxy = try await TCPProxy.start(to: port)
        // A reaches Redis through the proxy; B directly.
        let fleet = try await Fleet.start(redisPorts: [proxy.port, port], retryInterval: .milliseconds(100))
        let (a, b) = (fleet.clients[0], fleet.clients[1])
        let user = try await a.v2.registerUser(username: "partition", email: "partition@example.com")
        #expect(try await b.v2.getUser(id: user.id) == user)
        proxy.cut()
        let changed = try await a.v2.updateUser(id: user.id, email: "cutoff@example.com")
        proxy.restore()
        // No call to A is needed: its retry deletes the old entry within a few retry intervals.
        var fresh = false
        let until = ContinuousClock.now + .seconds(30)
        while !fresh && ContinuousClock.now < until {
            fresh = try await b.v2.getUser(id: user.id) == changed
        }
        #expect(fresh, "B still reads the entry from before the update")
        try await fleet.stop()
        await proxy.stop()
    }
}
