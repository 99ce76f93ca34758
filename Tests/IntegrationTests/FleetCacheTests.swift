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
    /// Two servers on one fresh database, each with its own Redis cache client (on `redisPorts`),
    /// and a client of each.
    struct Fleet {
        let servers: [TestServer]
        let clients: [UserRPCClient]

        /// Runs `body` with the fleet, then stops it (its servers, stores, caches and database),
        /// whether `body` returns or throws.
        static func run(redisPorts: [Int], retryInterval: Duration = .seconds(1), _ body: (Fleet) async throws -> Void) async throws {
            let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
            try await withTestServers(
                redisPorts.count,
                start: { index in
                    let store = PostgresUserStore(configuration: .init(url: database.url))
                    _ = try await store.migrate()
                    var configuration = try RedisUserCacheConfiguration(url: "redis://127.0.0.1:\(redisPorts[index])")
                    configuration.retryInterval = retryInterval
                    configuration.timeout = .seconds(5)
                    let cache = RedisUserCache(configuration: configuration)
                    // The first server started is the last stopped: it drops the database.
                    return try await TestServer.start(repository: UserRepository(store: store, cache: cache)) {
                        _ in
                    } cleanup: {
                        await store.shutdown()
                        await cache.shutdown()
                        if index == 0 { await database.drop() }
                    }
                },
                body: { servers in try await body(Fleet(servers: servers, clients: servers.map { $0.client() })) })
        }
    }

    static func redisPort() throws -> Int {
        let url = try TestServices.urls().redis
        return try RedisUserCacheConfiguration(url: url).port
    }

    @Test("updated through one server, read through the other at once: the new value; deleted: NOT_FOUND")
    func changeThroughOneReadThroughOther() async throws {
        let port = try Self.redisPort()
        try await Fleet.run(redisPorts: [port, port]) { fleet in
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
        }
    }

    @Test("Redis stopped during an update: the update succeeds, and after Redis is back the other server reads the new value")
    func redisStoppedDuringUpdate() async throws {
        let redisEnvironment = ["REDIS_PORT": "16392", "SERVICES_DIR": FaultTests.faultDirectory + "/redis-fleet"]
        try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
        try await Fleet.run(redisPorts: [16392, 16392], retryInterval: .milliseconds(100)) { fleet in
            let (a, b) = (fleet.clients[0], fleet.clients[1])
            let user = try await a.v2.registerUser(username: "outage", email: "outage@example.com")
            #expect(try await b.v2.getUser(id: user.id) == user)
            try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
            let changed = try await a.v2.updateUser(id: user.id, email: "during@example.com")
            #expect(changed.version == 2)
            #expect(try await b.v2.getUser(id: user.id) == changed)
            try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
            for _ in 0..<20 { #expect(try await b.v2.getUser(id: user.id) == changed) }
        }
        try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
    }

    @Test("a server cut off from Redis during an update: once it reaches Redis again, it deletes the old entry by itself")
    func partitionedServerCatchesUp() async throws {
        let port = try Self.redisPort()
        let proxy = try await TCPProxy.start(to: port)
        // A reaches Redis through the proxy; B directly.
        try await Fleet.run(redisPorts: [proxy.port, port], retryInterval: .milliseconds(100)) { fleet in
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
        }
        await proxy.stop()
    }
}
