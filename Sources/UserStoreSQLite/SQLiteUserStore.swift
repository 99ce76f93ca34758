import Foundation
import NIOPosix
import StrictJSON
import UserCore

/// Where the durable embedded store keeps its data. Every field has a documented default.
public struct SQLiteUserStoreConfiguration: Sendable, Hashable {
    /// The data directory, created if missing. Default `./user-rpc-data`.
    public var dataDirectory: String = "./user-rpc-data"
    /// How much of the change feed is kept (in the database and in memory). Default: an hour, at most
    /// 100,000 changes.
    public var feed = UserFeedConfiguration()

    public init(dataDirectory: String = "./user-rpc-data", feed: UserFeedConfiguration = UserFeedConfiguration()) {
        self.dataDirectory = dataDirectory
        self.feed = feed
    }

    /// The SQLite database file in the data directory.
    public var databasePath: String { dataDirectory + "/users.sqlite3" }
}

/// Why the durable store cannot open.
public enum SQLiteStoreError: Error, Sendable, CustomStringConvertible {
    /// The data directory cannot be created, written or locked.
    case dataDirectory(String)
    /// The database cannot be opened, migrated or read.
    case database(SQLiteError)

    public var description: String {
        switch self {
        case .dataDirectory(let reason): reason
        case .database(let error): "the database: \(error)"
        }
    }
}

/// The durable embedded store: users in a SQLite database in a data directory, read from memory.
///
/// Reads — GetUser, SearchUsers — are answered from an in-memory index (``InMemoryUserStore``) loaded
/// from the database at start-up, inline on the event loop, as the in-memory store answers them.
/// Writes run on one writer thread: each batch of registrations is one transaction, committed in WAL
/// mode with `synchronous=FULL` (the commit is on disk before any of them is answered), and the
/// index follows the commit. Each change also writes its event (the change feed) in its transaction,
/// numbered by the writer thread, so the feed's order is the commit order; the in-memory feed
/// watchers read follows the commit too, and is loaded back at start-up. Uniqueness is decided on the writer thread against the index, which
/// holds exactly what is committed, and the database's UNIQUE constraints back it up.
///
/// One server per data directory: the directory is locked (``DataDirectoryLock``) while open.
public final class SQLiteUserStore: UserStore {
    public let configuration: SQLiteUserStoreConfiguration
    /// The users as committed: what reads are answered from.
    private let index: InMemoryUserStore
    private let writer: NIOThreadPool
    private let database: Database
    private let lock: DataDirectoryLock
    /// How many users were loaded at start-up, and how long opening took.
    public let loadedUsers: Int
    private let tokenKey: [UInt8]
    public let openingTime: Duration
    /// The committed changes, in commit order (kept for the configured retention).
    private let feed: UserChangeFeed
    public var changeFeed: UserChangeFeed? { feed }

    /// The connection, used only on the writer thread (and by `init` before the thread exists).
    /// `@unchecked Sendable`: that one thread is the only one that touches it.
    private final class Database: @unchecked Sendable {
        /// `nil` once the store has shut down.
        var connection: SQLiteConnection?
        /// When events older than the retention were last deleted.
        var lastPruned = ContinuousClock.now
        init(_ connection: SQLiteConnection) { self.connection = connection }
    }

    /// Opens the store: creates and locks the data directory, opens the database (WAL,
    /// `synchronous=FULL`), applies pending migrations, and loads the users into memory.
    public init(configuration: SQLiteUserStoreConfiguration) throws(SQLiteStoreError) {
        let started = ContinuousClock.now
        self.configuration = configuration
        let (lock, connection) = try Self.open(configuration)
        self.lock = lock
        let users: [User]
        var key: [UInt8] = []
        var feedID: UInt64?
        do throws(SQLiteError) {
            _ = try SQLiteMigrator.migrate(connection)
            users = try Self.readAll(connection)
            try connection.run("SELECT hex(value) FROM service_secrets WHERE name = 'page_token_key'", []) { row in
                key = PageTokens.key(hex: row.text(0) ?? "")
            }
            try connection.run("SELECT hex(value) FROM service_secrets WHERE name = 'feed_id'", []) { row in
                feedID = row.text(0).flatMap { UInt64($0, radix: 16) }
            }
            guard let feedID else { throw SQLiteError(code: 0, message: "the feed id in service_secrets is missing") }
            feed = try Self.loadFeed(connection, feedID: feedID, configuration: configuration.feed)
        } catch {
            throw .database(error)
        }
        guard key.count >= 16 else { throw .database(SQLiteError(code: 0, message: "the page token key in service_secrets is missing")) }
        self.tokenKey = key
        self.index = InMemoryUserStore(loading: users)
        self.loadedUsers = users.count
        self.database = Database(connection)
        self.writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        self.openingTime = ContinuousClock.now - started
    }

    /// Applies pending migrations to the data directory's database and closes it; the versions applied.
    public static func migrate(configuration: SQLiteUserStoreConfiguration) throws(SQLiteStoreError) -> [Int] {
        let (lock, connection) = try open(configuration)
        defer { withExtendedLifetime(lock) {} }
        do {
            return try SQLiteMigrator.migrate(connection)
        } catch {
            throw .database(error)
        }
    }

    /// Every user in the data directory's database (for moving to PostgreSQL), without keeping it open.
    public static func allUsers(configuration: SQLiteUserStoreConfiguration) throws(SQLiteStoreError) -> [User] {
        let (lock, connection) = try open(configuration)
        defer { withExtendedLifetime(lock) {} }
        do {
            _ = try SQLiteMigrator.migrate(connection)
            return try readAll(connection)
        } catch {
            throw .database(error)
        }
    }

    /// SQLite's `PRAGMA integrity_check` on the data directory's database (while no server has it
    /// open): `["ok"]` when the database is sound, otherwise the problems found.
    public static func integrityCheck(configuration: SQLiteUserStoreConfiguration) throws(SQLiteStoreError) -> [String] {
        let (lock, connection) = try open(configuration)
        defer { withExtendedLifetime(lock) {} }
        var lines: [String] = []
        do {
            try connection.run("PRAGMA integrity_check", []) { row in lines.append(row.text(0) ?? "") }
        } catch {
            throw .database(error)
        }
        return lines
    }

    private static func open(_ configuration: SQLiteUserStoreConfiguration) throws(SQLiteStoreError) -> (DataDirectoryLock, SQLiteConnection) {
        let directory = configuration.dataDirectory
        do {
            // Created readable by its owner only: it holds every user's email.
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .dataDirectory("cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw .dataDirectory("the data directory \(directory) is not writable")
        }
        let lock = try DataDirectoryLock(directory: directory)
        do {
            let connection = try SQLiteConnection(path: configuration.databasePath)
            try connection.execute("PRAGMA journal_mode=WAL")
            // Every commit is on disk before it returns: an answered write survives a crash or a power cut.
            try connection.execute("PRAGMA synchronous=FULL")
            return (lock, connection)
        } catch {
            throw .database(error)
        }
    }

    /// The feed as the database keeps it: the events within the retention (at most the capacity),
    /// and the position of the last one ever written.
    private static func loadFeed(
        _ connection: SQLiteConnection, feedID: UInt64, configuration: UserFeedConfiguration
    ) throws(SQLiteError) -> UserChangeFeed {
        var head: Int64 = 0
        try connection.run(SQL.headPosition, []) { row in head = row.integer(0) ?? 0 }
        var events: [UserEvent] = []
        try connection.run(SQL.recentEvents, [.integer(configuration.oldestKeptMilliseconds()), .integer(head - Int64(configuration.capacity))]) {
            row throws(SQLiteError) in
            guard let first = row.integer(0), let committed = row.integer(1), let text = row.text(2),
                let read = UserEventRow.events(from: text, first: UInt64(first), committedAt: Date(timeIntervalSince1970: Double(committed) / 1000))
            else { throw SQLiteError(code: 11, message: "unexpected row in user_events") }  // 11 = SQLITE_CORRUPT
            events += read
        }
        // A row holds a whole transaction's events: of the rows read, the newest `capacity` events.
        // (The feed keeps those that run up to the head.)
        if events.count > configuration.capacity { events.removeFirst(events.count - configuration.capacity) }
        return UserChangeFeed(
            feedID: feedID, capacity: configuration.capacity, retention: configuration.retention, head: UInt64(head), events: events)
    }

    private static func readAll(_ connection: SQLiteConnection) throws(SQLiteError) -> [User] {
        var users: [User] = []
        try connection.run(SQL.all, []) { row throws(SQLiteError) in
            guard let id = row.text(0), let username = row.text(1), let email = row.text(2), let created = row.integer(3),
                let updated = row.integer(4), let version = row.integer(5),
                let user = User(
                    storedID: id, username: username, email: email, createdAtMilliseconds: created, updatedAtMilliseconds: updated,
                    version: UInt64(version))
            else { throw SQLiteError(code: 11, message: "unexpected row in users") }  // 11 = SQLITE_CORRUPT
            users.append(user)
        }
        return users
    }

    /// Stops the writer thread, closes the database and releases the data directory (another
    /// server may open it from then on); later writes fail with UNAVAILABLE.
    public func shutdown() async {
        try? await writer.shutdownGracefully()
        // The writer thread has stopped: nothing else uses the connection.
        database.connection = nil
        lock.release()
    }

    // MARK: UserStore

    /// The key made by migration 4 and kept in the database.
    public func pageTokenKey() -> [UInt8] { tokenKey }

    /// Reads never block: they are answered from memory, on the calling thread.
    public var execution: StorageExecution { .inline }
    /// Writes wait for the disk: they run on the writer thread.
    public var writeExecution: StorageExecution { .threads(WriterExecutor(threads: writer)) }

    public func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (User) -> Void) throws(UserError) {
        try index.users(ids: ids, cancellation: cancellation, found: found)
    }

    public func user(id: UUID, cancellation: CallCancellation?) -> User? {
        index.user(id: id)
    }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
        try index.search(query, cancellation: cancellation)
    }

    /// Inserts a batch in one transaction (one sync to disk for all), each user succeeding or failing
    /// on its own (a conflict, with the username checked first, fails only its own call).
    public func insert(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>] {
        guard let connection = database.connection else { return users.map { _ in .failure(Self.closed) } }
        var results: [Result<Void, UserError>] = []
        var events: [UserEvent] = []
        let committedAt = Self.commitTime()
        var ids = Set<UUID>()
        var usernames = Set<String>()
        var emails = Set<FoldedKey>()
        do throws(SQLiteError) {
            try connection.execute("BEGIN IMMEDIATE")
            for user in users {
                let usernameKey = user.usernameKey
                let emailKey = user.emailKey
                if ids.contains(user.id) || index.user(id: user.id) != nil {
                    results.append(.failure(.alreadyExists(field: "id")))
                    continue
                }
                if usernames.contains(usernameKey) || index.hasUsername(key: usernameKey) {
                    results.append(.failure(.alreadyExists(field: "username")))
                    continue
                }
                if emails.contains(emailKey) || index.hasEmail(key: emailKey) {
                    results.append(.failure(.alreadyExists(field: "email")))
                    continue
                }
                do throws(SQLiteError) {
                    try connection.run(SQL.insert, Self.row(of: user))
                } catch  where error.isUniqueViolation {
                    results.append(.failure(.internalError("a unique constraint the index did not know: \(error)")))
                    continue
                }
                events.append(nextEvent(.registered, user, after: events.last, committedAt: committedAt))
                ids.insert(user.id)
                usernames.insert(usernameKey)
                emails.insert(emailKey)
                results.append(.success(()))
            }
            // Any failure here fails the whole transaction: no user is committed without its event.
            try writeEvents(events, on: connection)
            try pruneEventsIfDue(connection)
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            return users.map { _ in .failure(Self.domainError(error)) }
        }
        // Committed: the index and the feed follow, and only then are the calls answered.
        for (user, result) in zip(users, results) where (try? result.get()) != nil {
            try? index.insert(user)
        }
        feed.append(contentsOf: events)
        return results
    }

    public func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
        let stored = try committed(current)
        if changed.usernameKey != stored.usernameKey, index.hasUsername(key: changed.usernameKey) { throw .alreadyExists(field: "username") }
        if changed.emailKey != stored.emailKey, index.hasEmail(key: changed.emailKey) { throw .alreadyExists(field: "email") }
        let event = try transaction { connection throws(SQLiteError) in
            try connection.run(
                SQL.update,
                [
                    .text(changed.username), .text(changed.email), .text(changed.usernameKey), .text(changed.emailKey.text),
                    .integer(changed.updatedAtMilliseconds), .integer(Int64(changed.version)), .text(stored.id.lowercasedText),
                    .integer(Int64(stored.version)),
                ])
            let event = nextEvent(.updated, changed, after: nil, committedAt: Self.commitTime())
            try writeEvents([event], on: connection)
            return event
        }
        // Committed: the feed first (its positions are the next writes'), then the index.
        feed.append(contentsOf: [event])
        return try index.replace(stored, with: changed)
    }

    public func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
        let stored = try committed(user)
        let event = try transaction { connection throws(SQLiteError) in
            try connection.run(SQL.delete, [.text(stored.id.lowercasedText)])
            let event = nextEvent(.deleted, stored, after: nil, committedAt: Self.commitTime())
            try writeEvents([event], on: connection)
            return event
        }
        feed.append(contentsOf: [event])
        try index.delete(stored)
    }

    /// The event of a change, numbered after `previous` (an event of this same transaction) or after
    /// the feed's last: on the one writer thread, the next number is always the next commit's.
    private func nextEvent(_ kind: UserEvent.Kind, _ user: User, after previous: UserEvent?, committedAt: Date) -> UserEvent {
        UserEvent(position: (previous?.position ?? feed.nextPosition - 1) + 1, kind: kind, user: user, committedAt: committedAt)
    }

    /// Writes the events of a transaction, in it: one row (nothing when there are none).
    private func writeEvents(_ events: [UserEvent], on connection: SQLiteConnection) throws(SQLiteError) {
        guard let first = events.first else { return }
        try connection.run(
            SQL.insertEvents,
            [.integer(Int64(first.position)), .integer(Int64(first.committedAt.timeIntervalSince1970 * 1000)), .text(UserEventRow.text(events))])
    }

    /// Now, in whole milliseconds (as the database keeps it): an event reads the same before and
    /// after a restart.
    private static func commitTime() -> Date {
        Date(timeIntervalSince1970: Double(Int64(Date().timeIntervalSince1970 * 1000)) / 1000)
    }

    /// Deletes the events past the feed's retention or capacity, at most once a minute (in a write
    /// transaction, so it costs no sync of its own). The newest event is always kept: its position
    /// is where the feed goes on after a restart.
    private func pruneEventsIfDue(_ connection: SQLiteConnection) throws(SQLiteError) {
        guard ContinuousClock.now - database.lastPruned > .seconds(60) else { return }
        database.lastPruned = ContinuousClock.now
        try connection.run(SQL.pruneEvents, [.integer(configuration.feed.oldestKeptMilliseconds()), .integer(Int64(configuration.feed.capacity))])
    }

    /// The committed user, if it is still exactly `user` as it was read (the compare of
    /// compare-and-set). On the writer thread, the only one that changes the index: what the index
    /// holds is what is committed.
    private func committed(_ user: User) throws(UserError) -> User {
        guard let stored = index.user(id: user.id) else { throw .notFound(id: user.id) }
        guard stored == user else { throw .versionMismatch(id: user.id, current: stored.version) }
        return stored
    }

    /// Runs `body` in a transaction committed to disk; a failure rolls it back.
    private func transaction<T>(_ body: (SQLiteConnection) throws(SQLiteError) -> T) throws(UserError) -> T {
        guard let connection = database.connection else { throw Self.closed }
        do throws(SQLiteError) {
            try connection.execute("BEGIN IMMEDIATE")
            let value = try body(connection)
            try pruneEventsIfDue(connection)
            try connection.execute("COMMIT")
            return value
        } catch {
            try? connection.execute("ROLLBACK")
            throw Self.domainError(error)
        }
    }

    private static func row(of user: User) -> [SQLiteConnection.Value] {
        [
            .text(user.id.lowercasedText), .text(user.username), .text(user.email), .text(user.usernameKey), .text(user.emailKey.text),
            .integer(user.createdAtMilliseconds), .integer(user.updatedAtMilliseconds), .integer(Int64(user.version)),
        ]
    }

    private static let closed = UserError.unavailable("the embedded store has shut down")

    /// The one place where SQLite failures become domain errors.
    static func domainError(_ error: SQLiteError) -> UserError {
        if error.isFull { return .storageFull("the data directory is full: the write was not made; retry when there is room") }
        return .internalError(error.description)
    }

    /// Every statement the store runs; values always travel as parameters.
    enum SQL {
        static let all = "SELECT id, username, email, created_at_ms, COALESCE(updated_at_ms, created_at_ms), version FROM users"
        static let insert = """
            INSERT INTO users (id, username, email, username_key, email_key, created_at_ms, updated_at_ms, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """
        static let update = """
            UPDATE users SET username = ?, email = ?, username_key = ?, email_key = ?, updated_at_ms = ?, version = ?
            WHERE id = ? AND version = ?
            """
        static let delete = "DELETE FROM users WHERE id = ?"
        static let insertEvents = "INSERT INTO user_events (first_position, committed_at_ms, events) VALUES (?, ?, ?)"
        /// The position of the last event ever written (the rows are never all deleted).
        static let headPosition = """
            SELECT COALESCE((SELECT first_position + json_array_length(events) - 1 FROM user_events ORDER BY first_position DESC LIMIT 1), 0)
            """
        /// The rows committed at or after `?1` (milliseconds) whose events go past position `?2`, oldest first.
        static let recentEvents = """
            SELECT first_position, committed_at_ms, events FROM user_events
            WHERE committed_at_ms >= ?1 AND first_position + json_array_length(events) - 1 > ?2 ORDER BY first_position
            """
        /// Rows committed before `?1` (milliseconds), or whose events are all beyond the newest `?2`,
        /// but never the newest row.
        static let pruneEvents = """
            DELETE FROM user_events
            WHERE first_position < (SELECT max(first_position) FROM user_events)
              AND (committed_at_ms < ?1
                   OR first_position + json_array_length(events) - 1 <= (SELECT max(first_position) FROM user_events) - ?2)
            """
    }
}

/// The events of one transaction as the `events` column holds them: a JSON array of
/// `[kind, id, username, email, created_at_ms, updated_at_ms, version]`.
enum UserEventRow {
    static func text(_ events: [UserEvent]) -> String {
        var writer = JSONWriter(reservingCapacity: 128 * events.count)
        writer.beginArray()
        for event in events {
            writer.beginArray()
            writer.string(event.kind.rawValue)
            writer.string(event.user.id.lowercasedText)
            writer.string(event.user.username)
            writer.string(event.user.email)
            writer.int(Int(event.user.createdAtMilliseconds))
            writer.int(Int(event.user.updatedAtMilliseconds))
            writer.uint64(event.user.version)
            writer.endArray()
        }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The events of a row whose first is at position `first`; `nil` when the text is not such an array.
    static func events(from text: String, first: UInt64, committedAt: Date) -> [UserEvent]? {
        guard case .array(let items)? = try? JSONParser().parse(Array(text.utf8)) else { return nil }
        var events: [UserEvent] = []
        for (index, item) in items.enumerated() {
            guard case .array(let fields) = item, fields.count == 7, let kind = fields[0].stringValue.flatMap(UserEvent.Kind.init(rawValue:)),
                let id = fields[1].stringValue, let username = fields[2].stringValue, let email = fields[3].stringValue,
                let created = fields[4].intValue, let updated = fields[5].intValue, let version = fields[6].intValue, version > 0,
                let user = User(
                    storedID: id, username: username, email: email, createdAtMilliseconds: Int64(created), updatedAtMilliseconds: Int64(updated),
                    version: UInt64(version))
            else { return nil }
            events.append(UserEvent(position: first + UInt64(index), kind: kind, user: user, committedAt: committedAt))
        }
        return events
    }
}

/// Runs writes on the store's one writer thread.
private struct WriterExecutor: BlockingExecutor {
    let threads: NIOThreadPool
    var threadCount: Int { 1 }

    func execute(_ work: @escaping @Sendable (Bool) -> Void) {
        threads.submit { state in work(state == .active) }
    }
}
