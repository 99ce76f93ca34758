import Foundation
import NIOPosix
import StrictJSON
import UserCore

/// Where the durable embedded store keeps its data. Every field has a documented default.
public struct SQLiteUserStoreConfiguration: Sendable, Hashable {
    /// The data directory, created if missing. Default `./user-rpc-data`.
    public var dataDirectory: String = "./user-rpc-data"

    public init(dataDirectory: String = "./user-rpc-data") {
        self.dataDirectory = dataDirectory
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
/// index follows the commit. Uniqueness is decided on the writer thread against the index, which
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

    /// The connection, used only on the writer thread (and by `init` before the thread exists).
    /// `@unchecked Sendable`: that one thread is the only one that touches it.
    private final class Database: @unchecked Sendable {
        /// `nil` once the store has shut down.
        var connection: SQLiteConnection?
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
        do {
            _ = try SQLiteMigrator.migrate(connection)
            users = try Self.readAll(connection)
            try connection.run("SELECT hex(value) FROM service_secrets WHERE name = 'page_token_key'", []) { row in
                key = PageTokens.key(hex: row.text(0) ?? "")
            }
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
                    ids.insert(user.id)
                    usernames.insert(usernameKey)
                    emails.insert(emailKey)
                    results.append(.success(()))
                } catch  where error.isUniqueViolation {
                    results.append(.failure(.internalError("a unique constraint the index did not know: \(error)")))
                }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            return users.map { _ in .failure(Self.domainError(error)) }
        }
        // Committed: the index follows, and only then are the calls answered.
        for (user, result) in zip(users, results) where (try? result.get()) != nil {
            try? index.insert(user)
        }
        return results
    }

    public func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
        let stored = try committed(current)
        if changed.usernameKey != stored.usernameKey, index.hasUsername(key: changed.usernameKey) { throw .alreadyExists(field: "username") }
        if changed.emailKey != stored.emailKey, index.hasEmail(key: changed.emailKey) { throw .alreadyExists(field: "email") }
        try transaction { connection throws(SQLiteError) in
            try connection.run(
                SQL.update,
                [
                    .text(changed.username), .text(changed.email), .text(changed.usernameKey), .text(changed.emailKey.text),
                    .integer(changed.updatedAtMilliseconds), .integer(Int64(changed.version)), .text(stored.id.lowercasedText),
                    .integer(Int64(stored.version)),
                ])
        }
        return try index.replace(stored, with: changed)
    }

    public func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
        let stored = try committed(user)
        try transaction { connection throws(SQLiteError) in
            try connection.run(SQL.delete, [.text(stored.id.lowercasedText)])
        }
        try index.delete(stored)
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
    private func transaction(_ body: (SQLiteConnection) throws(SQLiteError) -> Void) throws(UserError) {
        guard let connection = database.connection else { throw Self.closed }
        do throws(SQLiteError) {
            try connection.execute("BEGIN IMMEDIATE")
            try body(connection)
            try connection.execute("COMMIT")
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
