import Foundation
import HealthV1
import Testing
import UserCacheRedis
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserStorePostgres
import UserV1

/// Stops and restarts real servers during calls. Each test has PostgreSQL or Redis instances of its
/// own (other ports, other data folders), so stopping them disturbs no other test.
@Suite("Storage faults", .serialized)
struct FaultTests {
    static let faultDirectory = "/tmp/user-rpc-fault-services"

    @Test("Redis stopped during calls: every call still succeeds; the cache comes back by itself")
    func redisDown() async throws {
        let redisEnvironment = ["REDIS_PORT": "16391", "SERVICES_DIR": Self.faultDirectory + "/redis"]
        try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await store.migrate()
        var cacheConfiguration = try RedisUserCacheConfiguration(url: "redis://127.0.0.1:16391")
        cacheConfiguration.retryInterval = .milliseconds(100)
        cacheConfiguration.timeout = .seconds(5)
        let cache = RedisUserCache(configuration: cacheConfiguration)
        // The server shuts the store and the cache down and drops the database when it stops, after a throw too.
        let cleanUp: @Sendable () async -> Void = {
            await store.shutdown()
            await cache.shutdown()
            await database.drop()
        }
        try await TestServer.start(repository: UserRepository(store: store, cache: cache), cleanup: cleanUp).scoped { server in
            let client = server.client()

            var users: [UserV1User] = []
            for i in 0..<10 { users.append(try await client.registerUser(username: "before\(i)", email: "before\(i)@example.com")) }

            try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
            for i in 0..<10 { users.append(try await client.registerUser(username: "during\(i)", email: "during\(i)@example.com")) }
            for user in users { #expect(try await client.getUser(id: user.id) == user) }
            // Health: still SERVING (the cache only speeds things up), and says what is degraded.
            let degraded = try await client.checkHealth()
            #expect(degraded.status == .serving)
            #expect(degraded.detail?.hasPrefix("cache: unreachable") == true, "\(degraded)")

            try await blocking { try TestServices.runScript(["start-redis"], environment: redisEnvironment) }
            // Once the retry interval has passed, reads fill the cache again (bounded look).
            let probe = users[0]
            var refilled = false
            let lookUntil = ContinuousClock.now + .seconds(60)
            while !refilled && ContinuousClock.now < lookUntil {
                _ = try await client.getUser(id: probe.id)
                refilled = try await blocking {
                    var hit = false
                    cache.users(ids: [probe.id]) { _ in hit = true }
                    return hit
                }
            }
            let health = try await client.checkHealth()
            #expect(refilled, "the cache was not filled again within 60 s of Redis restarting; health: \(health)")
            #expect(health == HealthCheckResponse(status: .serving), "Redis is back: \(health)")

            await client.close()
        }
        try await blocking { try TestServices.runScript(["stop-redis"], environment: redisEnvironment) }
    }

    @Test("PostgreSQL stopped during calls: UNAVAILABLE fast, the server stays up, and recovers after restart")
    func postgresDown() async throws {
        let pgEnvironment = ["PG_PORT": "15441", "SERVICES_DIR": Self.faultDirectory + "/pg"]
        try await blocking { try TestServices.runScript(["start-postgres"], environment: pgEnvironment) }
        let url = "postgres://userrpc:userrpc@127.0.0.1:15441/userrpc"
        let store = PostgresUserStore(configuration: .init(url: url))
        _ = try await store.migrate()
        try await blocking { try PostgresConnection(url: url).execute("TRUNCATE users") }
        // The server shuts the store down when it stops, after a throw too.
        let cleanUp: @Sendable () async -> Void = { await store.shutdown() }
        try await TestServer.start(repository: UserRepository(store: store), cleanup: cleanUp).scoped { server in
            let client = server.client()

            var registered: [UserV1User] = []
            for i in 0..<10 { registered.append(try await client.registerUser(username: "pg_before\(i)", email: "pg_before\(i)@example.com")) }

            try await blocking { try TestServices.runScript(["stop-postgres"], environment: pgEnvironment) }
            // Failures are fast: UNAVAILABLE, not DEADLINE_EXCEEDED after waiting out the call's deadline.
            for i in 0..<10 {
                let error = await #expect(throws: UserRPCError.self) {
                    try await client.registerUser(username: "pg_during\(i)", email: "pg_during\(i)@example.com")
                }
                #expect(error?.code == .unavailable)
            }
            let read = await #expect(throws: UserRPCError.self) { try await client.getUser(id: registered[0].id) }
            #expect(read?.code == .unavailable)
            // Health: NOT_SERVING while the database is down, naming it; the health call itself answers.
            let down = try await client.checkHealth()
            #expect(down.status == .notServing)
            #expect(down.detail?.hasPrefix("store: ") == true, "\(down)")
            try await client.ping()  // the server is up

            try await blocking { try TestServices.runScript(["start-postgres"], environment: pgEnvironment) }
            // The database kept every user registered before the stop…
            let kept = try await blocking { try PostgresConnection(url: url).execute("SELECT username FROM users ORDER BY username").rows }
            #expect(kept.compactMap { $0[0] } == registered.map { $0.username }.sorted())
            // …and the server, with connections opened before the restart, serves them.
            for user in registered { #expect(try await client.getUser(id: user.id) == user) }
            #expect(try await client.checkHealth() == HealthCheckResponse(status: .serving), "PostgreSQL is back")
            for i in 0..<10 { registered.append(try await client.registerUser(username: "pg_after\(i)", email: "pg_after\(i)@example.com")) }

            // No lost or half-written user: exactly the successful registrations are stored.
            let rows = try await blocking { try PostgresConnection(url: url).execute("SELECT username FROM users ORDER BY username").rows }
            #expect(rows.compactMap { $0[0] } == registered.map { $0.username }.sorted())

            await client.close()
        }
        try await blocking { try TestServices.runScript(["stop-postgres"], environment: pgEnvironment) }
    }
}

typealias UserV1User = UserV1.User
