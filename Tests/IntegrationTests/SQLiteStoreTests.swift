import Foundation
import Testing
import UserCore
import UserStorePostgres
import UserStoreSQLite

/// `SQLiteUserStore` directly, on a real SQLite database in a directory of the test's own: batches,
/// what survives reopening, the uniqueness rule, and the directory lock.
@Suite("SQLite store")
struct SQLiteStoreTests {
    final class Directory: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-sqlite-\(UUID().uuidString)").path
        var configuration: SQLiteUserStoreConfiguration { SQLiteUserStoreConfiguration(dataDirectory: path) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func user(_ username: String, _ email: String, at milliseconds: Double = 1_700_000_000_000) -> User {
        User(id: UUID(), username: username, email: email, createdAt: Date(timeIntervalSince1970: milliseconds / 1000))
    }

    static func code(_ result: Result<some Any, UserError>) -> String {
        switch result {
        case .success: "ok"
        case .failure(.alreadyExists(let field)): "exists:\(field)"
        case .failure(.versionMismatch(_, let current)): "version:\(current)"
        case .failure(let error): "\(error)"
        }
    }

    @Test(
        "the change feed survives reopening: the same feed, positions go on, a cursor from before reads the rest; past the capacity an old cursor is expired"
    )
    func feedAcrossReopening() async throws {
        let directory = Directory()
        var configuration = directory.configuration
        configuration.feed.capacity = 3
        let ada = Self.user("ada", "ada@example.com")
        let bob = Self.user("bob", "bob@example.com")
        let first = try SQLiteUserStore(configuration: configuration)
        let feed = try #require(first.changeFeed)
        let start = feed.head
        // A batch with a conflict: only the users committed are events.
        #expect(first.insert([ada, bob, Self.user("ADA", "x@example.com")], cancellation: nil).map(Self.code) == ["ok", "ok", "exists:username"])
        var changed = bob
        changed.email = "bob2@example.com"
        changed.version = 2
        _ = try first.replace(bob, with: changed, cancellation: nil)
        try first.delete(ada, cancellation: nil)
        // Four events, three kept: the first is dropped already.
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: start, limit: 10) }
        let before = try feed.events(after: UserFeedCursor(feedID: feed.feedID, position: 1), limit: 10)
        #expect(before.map(\.position) == [2, 3, 4])
        #expect(before.map(\.kind) == [.registered, .updated, .deleted])
        #expect(before.map(\.user) == [bob, changed, ada])
        await first.shutdown()

        let second = try SQLiteUserStore(configuration: configuration)
        let reopened = try #require(second.changeFeed)
        #expect(reopened.feedID == feed.feedID && reopened.head == feed.head)
        // The same three, from the database: after the first kept, the rest as they were.
        let rest = try reopened.events(after: feed.cursor(of: before[0]), limit: 10)
        #expect(rest == Array(before.dropFirst()))
        #expect(throws: UserFeedError.cursorExpired) { try reopened.events(after: start, limit: 10) }
        // Text the events row must carry as it is (quotes, a backslash, accents): read back the same.
        let odd = Self.user("cat", #""o\"dd\\é"@exämple.com"#)
        #expect(second.insert([odd], cancellation: nil).map(Self.code) == ["ok"])
        #expect(try reopened.events(after: reopened.cursor(of: rest[1]), limit: 10).map(\.position) == [5])
        await second.shutdown()
        let third = try SQLiteUserStore(configuration: configuration)
        #expect(try third.changeFeed?.events(after: reopened.cursor(of: rest[1]), limit: 10).map(\.user) == [odd])
        await third.shutdown()
    }

    @Test("one batch, one transaction: a conflict inside the batch or with a stored user fails only its own call")
    func batchConflicts() async throws {
        let directory = Directory()
        let store = try SQLiteUserStore(configuration: directory.configuration)
        let stored = Self.user("Stored", "stored@example.com")
        #expect(store.insert([stored], cancellation: nil).map(Self.code) == ["ok"])
        let batch = [
            Self.user("ada", "ada@example.com"),
            Self.user("ADA", "other@example.com"),  // the username of the first, in other case
            Self.user("grace", "Ada@Example.com"),  // the email of the first, in other case
            Self.user("stored", "new@example.com"),  // the username of a stored user
            Self.user("linus", "STORED@example.com"),  // the email of a stored user
            Self.user("linus", "linus@example.com"),  // the first "linus" failed: this one is free
        ]
        #expect(
            store.insert(batch, cancellation: nil).map(Self.code) == [
                "ok", "exists:username", "exists:email", "exists:username", "exists:email", "ok",
            ])
        await store.shutdown()

        // Reopened: exactly the committed users, with their times.
        let reopened = try SQLiteUserStore(configuration: directory.configuration)
        #expect(reopened.loadedUsers == 3)
        var found: [User] = []
        try reopened.users(ids: [stored.id, batch[0].id, batch[5].id, batch[1].id], cancellation: nil) { found.append($0) }
        #expect(Set(found) == [stored, batch[0], batch[5]])
        await reopened.shutdown()
    }

    @Test("updates and deletes are on disk when answered; versions and names follow; a freed name can be taken")
    func updatesAndDeletesPersist() async throws {
        let directory = Directory()
        let store = try SQLiteUserStore(configuration: directory.configuration)
        let ada = Self.user("ada", "ada@example.com")
        let grace = Self.user("grace", "grace@example.com")
        _ = store.insert([ada, grace], cancellation: nil)
        let later = Date(timeIntervalSince1970: 1_700_000_100)
        func change(_ user: User, username: String? = nil, email: String? = nil) -> User {
            UserChange(id: user.id, username: username, email: email, expectedVersion: nil, at: later).applied(to: user)
        }
        let changed = try store.replace(ada, with: change(ada, username: "Countess"), cancellation: nil)
        #expect(changed.version == 2 && changed.username == "Countess" && changed.updatedAt == later)
        // Compare-and-set: a write from the version it was read at, now gone, is refused with the current one.
        #expect(
            Self.code(Result { () throws(UserError) in try store.replace(ada, with: change(ada, email: "x@example.com"), cancellation: nil) })
                == "version:2")
        #expect(
            Self.code(Result { () throws(UserError) in try store.replace(grace, with: change(grace, username: "COUNTESS"), cancellation: nil) })
                == "exists:username")
        try store.delete(grace, cancellation: nil)
        await store.shutdown()

        let reopened = try SQLiteUserStore(configuration: directory.configuration)
        var found: [User] = []
        try reopened.users(ids: [ada.id, grace.id], cancellation: nil) { found.append($0) }
        #expect(found == [changed])
        // grace's names are free again; ada's old username too.
        #expect(
            reopened.insert([Self.user("grace", "grace@example.com"), Self.user("ada", "ada2@example.com")], cancellation: nil).map(Self.code) == [
                "ok", "ok",
            ])
        #expect(try reopened.search(UserSearchQuery(usernamePrefix: "count", limit: 10), cancellation: nil) == [changed])
        await reopened.shutdown()
    }

    @Test("case-insensitive uniqueness is the same rule as the in-memory store's: ASCII letters fold, nothing else")
    func unicodeCaseRule() async throws {
        let directory = Directory()
        let durable = try SQLiteUserStore(configuration: directory.configuration)
        let memory = InMemoryUserStore()
        let first = [Self.user("Jürgen", "jürgen@example.com"), Self.user("Ωmega", "omega@example.com")]
        let second = [Self.user("JÜRGEN", "j2@example.com"), Self.user("ωMEGA", "o2@example.com"), Self.user("user3", "JÜRGEN@EXAMPLE.COM")]
        let durableAnswers = (durable.insert(first, cancellation: nil) + durable.insert(second, cancellation: nil)).map(Self.code)
        let memoryAnswers = (memory.insert(first, cancellation: nil) + memory.insert(second, cancellation: nil)).map(Self.code)
        #expect(durableAnswers == memoryAnswers)
        // Only ASCII letters fold: Ü/ü and Ω/ω are different letters to every store.
        #expect(durableAnswers == ["ok", "ok", "ok", "ok", "ok"])
        #expect(
            durable.insert([Self.user("JURGEN2", "Jurgen@Example.COM"), Self.user("jurgen2", "x@example.com")], cancellation: nil).map(Self.code) == [
                "ok", "exists:username",
            ])
        #expect(durable.insert([Self.user("other", "jurgen@example.com")], cancellation: nil).map(Self.code) == ["exists:email"])
        await durable.shutdown()
    }

    @Test("migrations: applied once, numbered as PostgreSQL's; a second migrate applies nothing")
    func migrations() async throws {
        let directory = Directory()
        // Every migration, in order, with PostgreSQL's numbers: a schema change is one migration per store.
        #expect(try SQLiteUserStore.migrate(configuration: directory.configuration) == PostgresMigrations.all.map(\.version))
        #expect(try SQLiteUserStore.migrate(configuration: directory.configuration) == [])
        #expect(try SQLiteUserStore.integrityCheck(configuration: directory.configuration) == ["ok"])
        // The page token key is made once and kept: a restarted server accepts the tokens it issued.
        let first = try SQLiteUserStore(configuration: directory.configuration)
        let key = first.pageTokenKey()
        #expect(key.count == 32)
        await first.shutdown()
        let reopened = try SQLiteUserStore(configuration: directory.configuration)
        #expect(reopened.pageTokenKey() == key)
        await reopened.shutdown()
        let elsewhere = try SQLiteUserStore(configuration: Directory().configuration)
        #expect(elsewhere.pageTokenKey() != key)
        await elsewhere.shutdown()
    }

    @Test("the data directory is locked while a store has it open, in this process too")
    func directoryLock() async throws {
        let directory = Directory()
        let store = try SQLiteUserStore(configuration: directory.configuration)
        #expect {
            _ = try SQLiteUserStore(configuration: directory.configuration)
        } throws: { error in
            "\(error)".contains("in use by another user-rpc-server (pid \(getpid()))")
        }
        await store.shutdown()
    }
}
