import Foundation
import Testing
import UserCacheRedis
import UserCore
import UserRPCClient
import UserRPCTestKit

/// The Redis cache against a real Redis, behind a server on PostgreSQL.
@Suite("Redis cache")
struct RedisCacheTests {
    /// Runs one Redis command on a connection of the test's own.
    private func redis(_ arguments: String...) async throws -> RedisReply {
        let configuration = try RedisUserCacheConfiguration(url: try TestServices.urls().redis)
        return try await blocking {
            let connection = try RedisConnection(host: configuration.host, port: configuration.port, timeout: .seconds(2))
            return try connection.command(arguments.map { Array($0.utf8) })
        }
    }

    @Test("registration primes user:e2:<id> with the TTL; a miss fills it again")
    func primeAndFill() async throws {
        try await withTestServer(backend: .postgresRedis) { server in
            let client = server.client()
            let registering = ContinuousClock.now
            let user = try await client.registerUser(username: "cached", email: "cached@example.com")
            let key = RedisUserCache.key(for: user.id)
            guard case .integer(let ttl) = try await redis("TTL", key) else {
                Issue.record("no TTL reply")
                return
            }
            // The hour, less the whole seconds that passed since the call was sent (however slow the machine).
            let elapsed = Int((ContinuousClock.now - registering).components.seconds) + 1
            #expect(ttl <= 3600 && ttl >= Int64(3600 - elapsed), "TTL \(ttl) after \(elapsed) s")
            guard case .string(let bytes) = try await redis("GET", key) else {
                Issue.record("the registration did not prime the cache")
                return
            }
            #expect(String(decoding: bytes, as: UTF8.self).contains("\"username\":\"cached\""))

            _ = try await redis("DEL", key)
            #expect(try await client.getUser(id: user.id) == user)
            #expect(try await eventually { try await redis("EXISTS", key) == .integer(1) }, "the miss filled the cache")
            await client.close()
        }
    }

    @Test("reads come from the cache first")
    func readsFromCache() async throws {
        try await withTestServer(backend: .postgresRedis) { server in
            let client = server.client()
            let user = try await client.registerUser(username: "original", email: "original@example.com")
            // A cache entry that differs from the database (same id) is what GetUser returns: it read the cache.
            let entry =
                #"2 {"id":"\#(user.id.lowercasedText)","username":"fromcache","email":"original@example.com","created_at_ms":0,"updated_at_ms":0,"version":1}"#
            _ = try await redis("SET", RedisUserCache.key(for: user.id), entry)
            #expect(try await client.getUser(id: user.id).username == "fromcache")
            // An entry without its rank in front, as servers from before wrote it, is read too (one
            // key per user for both during a rolling upgrade)…
            let legacy = String(entry.dropFirst(2)).replacingOccurrences(of: "fromcache", with: "legacy")
            _ = try await redis("SET", RedisUserCache.key(for: user.id), legacy)
            #expect(try await client.getUser(id: user.id).username == "legacy")
            // …and ranked from its JSON as those servers rank it: one of a later version (9) is not
            // replaced by a change's rewrite at version 2; one of version 1 is.
            let later = legacy.replacingOccurrences(of: #""version":1"#, with: #""version":9"#)
            _ = try await redis("SET", RedisUserCache.key(for: user.id), later)
            _ = try await client.v2.updateUser(id: user.id, email: "changed@example.com")
            #expect(try await redis("GET", RedisUserCache.key(for: user.id)) == .string(Array(later.utf8)))
            _ = try await redis("SET", RedisUserCache.key(for: user.id), legacy)
            _ = try await client.v2.updateUser(id: user.id, email: "changed.again@example.com")
            guard case .string(let rewritten) = try await redis("GET", RedisUserCache.key(for: user.id)) else {
                Issue.record("the change did not rewrite the entry")
                return
            }
            #expect(String(decoding: rewritten, as: UTF8.self).hasPrefix("6 {"))
            await client.close()
        }
    }

    @Test("garbage in the cache is ignored: the store answers and the entry is repaired")
    func garbageEntry() async throws {
        try await withTestServer(backend: .postgresRedis) { server in
            let client = server.client()
            let user = try await client.registerUser(username: "repaired", email: "repaired@example.com")
            let other = UUID.version7().lowercasedText
            let key = RedisUserCache.key(for: user.id)
            for garbage in ["not json", "{\"id\":\"\(other)\",\"username\":\"x\",\"email\":\"y\",\"created_at_ms\":1}", "\u{0}\u{1}"] {
                _ = try await redis("SET", key, garbage)  // no TTL: it would stay for good if not repaired
                #expect(try await client.getUser(id: user.id) == user, "\(garbage)")
                let repaired = try await eventually {
                    guard case .string(let entry) = try await redis("GET", key) else { return false }
                    return String(decoding: entry, as: UTF8.self).contains("\"username\":\"repaired\"")
                }
                #expect(repaired, "the entry was not repaired after \(garbage)")
            }
            _ = try await redis("DEL", key)
            _ = try await redis("HSET", key, "f", "v")  // wrong type: GET answers an error
            #expect(try await client.getUser(id: user.id) == user)
            #expect(try await eventually { try await redis("TYPE", key) == .status("string") }, "the wrong-type entry was replaced by a user")
            _ = try await redis("DEL", key)
            await client.close()
        }
    }

    @Test("Redis URLs are read with host, port, password and database")
    func urls() throws {
        let full = try RedisUserCacheConfiguration(url: "redis://:s%40cret@cache.internal:6380/2")
        #expect(full.host == "cache.internal")
        #expect(full.port == 6380)
        #expect(full.password == "s@cret")
        #expect(full.database == 2)
        let plain = try RedisUserCacheConfiguration(url: "redis://127.0.0.1")
        #expect(plain.port == 6379)
        #expect(plain.password == nil)
        #expect(throws: RedisError.self) { try RedisUserCacheConfiguration(url: "http://x") }
        #expect(throws: RedisError.self) { try RedisUserCacheConfiguration(url: "redis://x:99999") }
    }
}

/// Whether `condition` holds within 30 s, checked again every 10 ms. For what the server does after
/// it has answered (a cache fill runs once the answer is on its way): a bounded wait for a state,
/// which a loaded machine reaches later, never a fixed pause.
func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    let giveUp = ContinuousClock.now + .seconds(30)
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= giveUp { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
}
