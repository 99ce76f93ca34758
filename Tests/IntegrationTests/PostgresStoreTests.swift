import Foundation
import Testing
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserV1

@testable import UserStorePostgres

/// The PostgreSQL store against a real PostgreSQL (a fresh database per test).
@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test("migrations run once, in order, recorded in schema_migrations, also when started concurrently")
    func migrations() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let stores = (0..<4).map { _ in PostgresUserStore(configuration: .init(url: database.url)) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for store in stores { group.addTask { try await store.migrate() } }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        #expect(applied.filter { !$0.isEmpty } == [PostgresMigrations.all.map(\.version)])
        #expect(try await stores[0].migrate().isEmpty)
        let recorded = try await blocking {
            try database.connect().execute("SELECT version, name FROM schema_migrations ORDER BY version").rows
        }
        #expect(recorded.map { $0[0] } == PostgresMigrations.all.map { String($0.version) })
        // One page token key for the database, made once, whichever server reads it; another database has its own.
        let keys = try stores.map { try $0.pageTokenKey() }
        #expect(keys[0].count == 32 && Set(keys).count == 1)
        let other = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let otherStore = PostgresUserStore(configuration: .init(url: other.url))
        _ = try await otherStore.migrate()
        #expect(try otherStore.pageTokenKey() != keys[0])
        await otherStore.shutdown()
        await other.drop()
        for store in stores { await store.shutdown() }
        await database.drop()
    }

    @Test("compare-and-set: a write from an old read, or from a deleted user's registration under the same id and version, is refused")
    func compareAndSet() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await store.migrate()
        try await blocking {
            let ada = UserCore.User(
                id: UUID.version7(), username: "ada", email: "ada@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_000))
            try store.insert([ada], cancellation: nil)[0].get()
            let later = Date(timeIntervalSince1970: 1_700_000_100)
            let changed = UserChange(id: ada.id, username: "Countess", email: nil, expectedVersion: nil, at: later).applied(to: ada)
            #expect(try store.replace(ada, with: changed, cancellation: nil) == changed)
            // The version read is gone: refused, with the current one.
            #expect(throws: UserError.versionMismatch(id: ada.id, current: 2)) { try store.replace(ada, with: changed, cancellation: nil) }
            // Deleted, and registered again under its id (as an idempotency key does): version 1 again,
            // but not the user first read at version 1.
            try store.delete(changed, cancellation: nil)
            let again = UserCore.User(
                id: ada.id, username: "again", email: "again@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_200))
            try store.insert([again], cancellation: nil)[0].get()
            #expect(throws: UserError.versionMismatch(id: ada.id, current: 1)) { try store.replace(ada, with: changed, cancellation: nil) }
            #expect(throws: UserError.versionMismatch(id: ada.id, current: 1)) { try store.delete(ada, cancellation: nil) }
            #expect(try store.user(id: ada.id, cancellation: nil) == again)
            try store.delete(again, cancellation: nil)
            #expect(throws: UserError.notFound(id: ada.id)) { try store.delete(again, cancellation: nil) }
        }
        await store.shutdown()
        await database.drop()
    }

    @Test(
        "the change feed: a change and its event commit together, numbered after commit with no gap; another store of the database reads them; a store started later goes on after them; past the capacity an old cursor is expired"
    )
    func changeFeed() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        var configuration = PostgresUserStoreConfiguration(url: database.url)
        configuration.feed.capacity = 3
        let writer = PostgresUserStore(configuration: configuration)
        let reader = PostgresUserStore(configuration: configuration)
        _ = try await writer.migrate()
        try await writer.startChangeFeed()
        try await reader.startChangeFeed()
        let writerFeed = try #require(writer.changeFeed)
        let readerFeed = try #require(reader.changeFeed)
        #expect(writerFeed.feedID == readerFeed.feedID && writerFeed.head.position == 0)
        let ada = UserCore.User(id: UUID.version7(), username: "ada", email: "ada@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        let bob = UserCore.User(id: UUID.version7(), username: "bob", email: "bob@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        let changed = try await blocking { () -> UserCore.User in
            // A conflict fails its own insert, and writes no event.
            #expect(
                writer.insert(
                    [ada, bob, UserCore.User(id: UUID.version7(), username: "ADA", email: "x@example.com", createdAt: Date())], cancellation: nil
                ).map { (try? $0.get()) != nil } == [true, true, false])
            let changed = UserChange(
                id: ada.id, username: nil, email: "ada2@example.com", expectedVersion: nil, at: Date(timeIntervalSince1970: 1_700_000_100)
            ).applied(to: ada)
            _ = try writer.replace(ada, with: changed, cancellation: nil)
            #expect(throws: UserError.self) { try writer.replace(ada, with: changed, cancellation: nil) }  // no event either
            try writer.delete(bob, cancellation: nil)
            return changed
        }
        // The reader's feed learns of them (NOTIFY, or its next look): wait for the fourth.
        while readerFeed.head.position < 4 { await readerFeed.wait(after: readerFeed.head) }
        // Four events, three kept (the capacity): the first is dropped already.
        #expect(throws: UserFeedError.cursorExpired) {
            try readerFeed.events(after: UserFeedCursor(feedID: readerFeed.feedID, position: 0), limit: 10)
        }
        let events = try readerFeed.events(after: UserFeedCursor(feedID: readerFeed.feedID, position: 1), limit: 10)
        #expect(events.map(\.position) == [2, 3, 4])
        #expect(events.map(\.kind) == [.registered, .updated, .deleted])
        #expect(events.map(\.user) == [bob, changed, bob])
        while writerFeed.head.position < 4 { await writerFeed.wait(after: writerFeed.head) }
        #expect(try writerFeed.events(after: UserFeedCursor(feedID: writerFeed.feedID, position: 1), limit: 10) == events)
        await writer.shutdown()
        await reader.shutdown()

        // A store started now goes on after them, keeping the newest three.
        let later = PostgresUserStore(configuration: configuration)
        try await later.startChangeFeed()
        let laterFeed = try #require(later.changeFeed)
        #expect(laterFeed.head.position == 4)
        #expect(try laterFeed.events(after: UserFeedCursor(feedID: laterFeed.feedID, position: 1), limit: 10).map(\.position) == [2, 3, 4])
        #expect(throws: UserFeedError.cursorExpired) { try laterFeed.events(after: UserFeedCursor(feedID: laterFeed.feedID, position: 0), limit: 10) }
        await later.shutdown()
        await database.drop()
    }

    @Test("every file in Migrations/ is listed, in version order")
    func migrationFilesListed() throws {
        let folder = TestServices.packageRoot.appendingPathComponent("Sources/UserStorePostgres/Migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == PostgresMigrations.all.map { "V\($0.version)__\($0.name).sql" })
        #expect(PostgresMigrations.all.map(\.version) == Array(1...PostgresMigrations.all.count))
    }

    @Test("search uses an index, not a sequential scan, on 100k users")
    func searchUsesIndex() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await store.migrate()
        let cursor = UserSearchCursor(usernameKey: "user5000", id: UUID.version7())
        let queries = [
            UserSearchQuery(usernamePrefix: "user12", limit: 20),
            UserSearchQuery(usernamePrefix: "user12", limit: 20, after: cursor),
            UserSearchQuery(limit: 20),
            UserSearchQuery(limit: 20, after: cursor),
            UserSearchQuery(email: "user77@example.com", limit: 20),
        ]
        let plans = try await blocking {
            let connection = try database.connect()
            try connection.execute(
                """
                INSERT INTO users (id, username, email, created_at)
                SELECT gen_random_uuid(), 'user' || g, 'user' || g || '@example.com', now() FROM generate_series(1, 100000) g
                """)
            try connection.execute("ANALYZE users")
            return try queries.map { query in
                let statement = try #require(SQL.search(query))
                let rows = try connection.execute("EXPLAIN " + statement.sql, statement.parameters).rows
                return rows.compactMap { $0.first ?? nil }.joined(separator: "\n")
            }
        }
        for (query, plan) in zip(queries, plans) {
            #expect(plan.contains("Index"), "\(query): \(plan)")
            #expect(!plan.contains("Seq Scan"), "\(query): \(plan)")
        }
        // And the results are right.
        let page = try await blocking { try store.search(UserSearchQuery(usernamePrefix: "user9999", limit: 20), cancellation: nil) }
        #expect(
            page.map(\.username) == [
                "user9999", "user99990", "user99991", "user99992", "user99993", "user99994", "user99995", "user99996", "user99997", "user99998",
                "user99999",
            ])
        await store.shutdown()
        await database.drop()
    }

    @Test("a statement that outlives its deadline gets DEADLINE_EXCEEDED, and its connection stays usable")
    func deadlineCancelsStatement() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url).with { $0.poolSize = 1 })
        _ = try await store.migrate()
        // The server shuts the store down and drops the database when it stops, after a throw too.
        let cleanUp: @Sendable () async -> Void = {
            await store.shutdown()
            await database.drop()
        }
        try await TestServer.start(repository: UserRepository(store: store), cleanup: cleanUp).scoped { server in
            let client = server.client()
            let user = try await client.registerUser(username: "locked", email: "locked@example.com")

            // Another session takes an exclusive lock on the table: reads of it wait.
            let locker = try await TestSession(database)
            try await locker.execute("BEGIN")
            try await locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            let error = await #expect(throws: UserRPCError.self) {
                try await client.getUser(id: user.id, options: .init(timeout: .milliseconds(300)))
            }
            #expect(error?.code == .deadlineExceeded)
            // The statement was cancelled while the lock was still held: soon no query waits for it.
            // (The cancel request is asynchronous at the server, so look until it has taken effect, bounded.)
            var waiting: [String?] = []
            let lookUntil = ContinuousClock.now + .seconds(5)
            repeat {
                waiting = try await locker.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
            } while waiting != ["0"] && ContinuousClock.now < lookUntil
            #expect(waiting == ["0"])
            try await locker.execute("ROLLBACK")

            // The single pooled connection serves the next calls.
            #expect(try await client.getUser(id: user.id) == user)
            _ = try await client.registerUser(username: "after_lock", email: "after@example.com")
            await client.close()
        }
    }

    @Test("of 50 concurrent registrations of one username, exactly one succeeds")
    func concurrentRegistrations() async throws {
        try await withTestServer(backend: .postgresRedis) { server in
            let client = server.client()
            let outcomes = await withTaskGroup(of: UserRPCError.Code.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        do throws(UserRPCError) {
                            _ = try await client.registerUser(username: "Racer", email: "racer\(i)@example.com")
                            return .ok
                        } catch {
                            return error.code
                        }
                    }
                }
                return await group.reduce(into: [UserRPCError.Code]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .ok }.count == 1)
            #expect(outcomes.filter { $0 == .alreadyExists }.count == 49)
            let database = try #require(server.database)
            let count = try await blocking { try database.connect().execute("SELECT count(*) FROM users").rows }
            #expect(count.first?.first == "1")
            await client.close()
        }
    }

    @Test("two servers on one database: a user registered through one is found through the other")
    func twoServers() async throws {
        let urls = try TestServices.urls()
        let database = try await TestDatabase.create(baseURL: urls.database)
        let first = PostgresUserStore(configuration: .init(url: database.url))
        let second = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await first.migrate()
        _ = try await second.migrate()
        // Each server shuts its store down when it stops, after a throw too; A, stopped last, then drops
        // the database.
        let cleanUpA: @Sendable () async -> Void = {
            await first.shutdown()
            await database.drop()
        }
        let cleanUpB: @Sendable () async -> Void = { await second.shutdown() }
        try await TestServer.start(repository: UserRepository(store: first), cleanup: cleanUpA).scoped { serverA in
            try await TestServer.start(repository: UserRepository(store: second), cleanup: cleanUpB).scoped { serverB in
                let clientA = serverA.client()
                let clientB = serverB.client()
                let ada = try await clientA.registerUser(username: "shared", email: "shared@example.com")
                #expect(try await clientB.getUser(id: ada.id) == ada)
                #expect(try await clientB.searchUsers(username: "sha").users == [ada])
                let conflict = await #expect(throws: UserRPCError.self) {
                    try await clientB.registerUser(username: "SHARED", email: "other@example.com")
                }
                #expect(conflict?.code == .alreadyExists)
                await clientA.close()
                await clientB.close()
            }
        }
    }

    @Test("users round-trip exactly, including created_at to the millisecond")
    func roundTrip() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let store = PostgresUserStore(configuration: .init(url: database.url))
        _ = try await store.migrate()
        let user = UserCore.User(
            id: UUID.version7(), username: "Exact", email: "Exact@Example.com", createdAt: Date(timeIntervalSince1970: 1_795_000_000.123))
        try await blocking { try store.insertForTest(user) }
        let read = try await blocking { try store.userForTest(id: user.id) }
        #expect(read == user)
        #expect(read.map { RFC3339.format($0.createdAt) } == "2026-11-18T11:06:40.123Z")
        #expect(throws: UserError.alreadyExists(field: "email")) {
            try store.insertForTest(UserCore.User(id: UUID.version7(), username: "other", email: "EXACT@example.com", createdAt: Date()))
        }
        #expect(try store.userForTest(id: UUID.version7()) == nil)
        await store.shutdown()
        await database.drop()
    }
}

extension PostgresUserStoreConfiguration {
    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}
