import Foundation
import Testing
import UserCacheRedis
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserStorePostgres
import UserV1

/// The batched storage path: many calls in flight are served in batches (pipelined inserts, one
/// SELECT for many ids, pipelined Redis commands), and every call still gets its own answer.
@Suite("Batched storage calls")
struct BatchedStorageTests {
    @Test("a pipelined batch of inserts: each succeeds or fails on its own, naming the conflicting field")
    func pipelinedInserts() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await store.migrate()
        let existing = UserCore.User(id: .version7(), username: "taken", email: "taken@example.com", createdAt: Date(timeIntervalSince1970: 1))
        try await blocking { try store.insertForTest(existing) }
        let users = [
            UserCore.User(id: .version7(), username: "fresh1", email: "fresh1@example.com", createdAt: Date(timeIntervalSince1970: 2)),
            UserCore.User(id: .version7(), username: "TAKEN", email: "other@example.com", createdAt: Date(timeIntervalSince1970: 3)),
            UserCore.User(id: .version7(), username: "fresh2", email: "Taken@Example.com", createdAt: Date(timeIntervalSince1970: 4)),
            UserCore.User(id: .version7(), username: "fresh1", email: "fresh1b@example.com", createdAt: Date(timeIntervalSince1970: 5)),
            UserCore.User(id: .version7(), username: "fresh3", email: "fresh3@example.com", createdAt: Date(timeIntervalSince1970: 6)),
        ]
        let results = try await blocking { store.insert(users, cancellation: CallCancellation()) }
        #expect(results.count == 5)
        #expect((try? results[0].get()) != nil)
        #expect(results[1].failure == .alreadyExists(field: "username"))
        #expect(results[2].failure == .alreadyExists(field: "email"))
        #expect(results[3].failure == .alreadyExists(field: "username"), "a conflict inside the batch")
        #expect((try? results[4].get()) != nil)
        // Exactly the successful rows were committed; one SELECT reads several ids, skipping unknown ones.
        let read = try await blocking {
            var read: [UserCore.User] = []
            try store.users(ids: users.map(\.id) + [existing.id, UUID.version7()], cancellation: CallCancellation()) { read.append($0) }
            return read
        }
        #expect(Set(read.map(\.username)) == ["taken", "fresh1", "fresh3"])
        #expect(read.first { $0.id == users[4].id } == users[4])
        await store.shutdown()
        await database.drop()
    }

    @Test("pipelined cache reads and writes: hits, misses and garbage each on their own")
    func pipelinedCache() async throws {
        var configuration = try RedisUserCacheConfiguration(url: try TestServices.urls().redis)
        configuration.timeout = .seconds(5)
        let cache = RedisUserCache(configuration: configuration)
        let users = (0..<3).map { i in
            UserCore.User(id: .version7(), username: "c\(i)", email: "c\(i)@example.com", createdAt: Date(timeIntervalSince1970: Double(i)))
        }
        try await blocking { [configuration] in
            cache.store([users[0], users[2]])
            let connection = try RedisConnection(host: configuration.host, port: configuration.port, timeout: .seconds(2))
            _ = try connection.command("SET", RedisUserCache.key(for: users[1].id), "garbage")
        }
        let ids = users.map(\.id) + [UUID.version7()]
        let read = try await blocking {
            var found: [UUID: UserCore.User] = [:]
            cache.users(ids: ids) { found[$0.id] = $0 }
            return ids.map { found[$0] }
        }
        #expect(read == [users[0], nil, users[2], nil])
        await cache.shutdown()
    }

    @Test("hundreds of concurrent calls through the server on PostgreSQL + Redis each get their own answer")
    func concurrentCallsGetTheirOwnAnswers() async throws {
        try await withTestServer(backend: .postgresRedis) { server in
            let client = server.client()
            // 160 registrations at once, in groups of four: two that want the same username, two that
            // want the same email. In each pair exactly one wins, whichever batch it lands in.
            let registered = await withTaskGroup(of: (Int, Result<UserV1.User, UserRPCError>).self) { group in
                for i in 0..<160 {
                    group.addTask {
                        let base = i - i % 4
                        let (username, email): (String, String) =
                            switch i % 4 {
                            case 0, 1: ("pair\(base)", "u\(i)@example.com")
                            default: ("user\(i)", "pair\(base)@example.com")
                            }
                        do throws(UserRPCError) {
                            return (i, .success(try await client.registerUser(username: username, email: email)))
                        } catch {
                            return (i, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: [Int: Result<UserV1.User, UserRPCError>]()) { $0[$1.0] = $1.1 }
            }
            var created: [UserV1.User] = []
            for pair in stride(from: 0, to: 160, by: 2) {
                let outcomes = [registered[pair], registered[pair + 1]]
                let winners = outcomes.compactMap { try? $0?.get() }
                let losers = outcomes.compactMap { outcome -> UserRPCError? in
                    if case .failure(let error)? = outcome { error } else { nil }
                }
                #expect(winners.count == 1 && losers.count == 1, "pair \(pair): \(outcomes)")
                #expect(losers.allSatisfy { $0.code == .alreadyExists && $0.conflictingField == (pair % 4 == 0 ? "username" : "email") })
                created += winners
            }
            #expect(created.count == 80)
            // 300 reads at once: every created user twice (a miss, then a hit or a miss), and unknown ids.
            let ids = created.map(\.id) + created.map(\.id) + (0..<30).map { _ in UUID.version7() }
            let reads = await withTaskGroup(of: (UUID, UserV1.User?).self) { group in
                for id in ids {
                    group.addTask { (id, try? await client.getUser(id: id)) }
                }
                return await group.reduce(into: [(UUID, UserV1.User?)]()) { $0.append($1) }
            }
            let byID = Dictionary(created.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for (id, user) in reads {
                #expect(user == byID[id], "GetUser \(id)")
            }
            await client.close()
        }
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
