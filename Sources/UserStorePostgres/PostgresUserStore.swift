import Foundation
import Metrics
import NIOConcurrencyHelpers
import NIOPosix
import StrictJSON
import UserCore

/// The production store: users in PostgreSQL, through libpq.
///
/// libpq is blocking, so every statement runs on a thread pool with as many threads as the pool has
/// connections; each thread owns one connection, opened on first use and replaced when it breaks.
/// Statements are parameterized and prepared once per connection; nothing from a request is ever
/// part of SQL text. Cancelling a call's `CallCancellation` (its deadline passed, its client cancelled)
/// sends a cancel request for the running statement.
public final class PostgresUserStore: UserStore {
    public let configuration: PostgresUserStoreConfiguration
    private let threads: NIOThreadPool
    private let slots = ThreadSpecificVariable<ConnectionSlot>()
    private let poolMetrics: PoolMetrics
    /// The page token key, once read.
    private let tokenKey = NIOLockedValueBox<[UInt8]?>(nil)
    /// This server's copy of the change feed, once ``startChangeFeed()`` started it.
    private let follower = NIOLockedValueBox<PostgresFeedFollower?>(nil)

    /// The connection owned by one pool thread.
    /// `@unchecked Sendable`: a slot lives in thread-specific storage, so only its own pool thread ever
    /// touches it; the type must be `Sendable` only because `ThreadSpecificVariable` is shared.
    private final class ConnectionSlot: @unchecked Sendable {
        var connection: PostgresConnection?
    }

    /// - Parameter metricsFactory: where the pool's metrics go (connections in use, wait for one);
    ///   the process-wide `MetricsSystem.factory` by default.
    public init(configuration: PostgresUserStoreConfiguration, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.configuration = configuration
        self.poolMetrics = PoolMetrics(poolSize: max(1, configuration.poolSize), factory: metricsFactory)
        self.threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        threads.start()
    }

    /// Stops the pool threads (closing their connections) and the change feed's. Calls made
    /// afterwards fail with UNAVAILABLE.
    public func shutdown() async {
        if let follower = follower.withLockedValue({ current in
            defer { current = nil }
            return current
        }) {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    follower.stop()
                    done.resume()
                }
            }
        }
        try? await threads.shutdownGracefully()
    }

    /// Starts following the database's change feed (``changeFeed``): numbering committed changes,
    /// hearing of other servers' changes, keeping the recent ones in memory. Call once, after
    /// ``migrate()`` (or once the database is migrated); until then the store offers no feed.
    public func startChangeFeed() async throws(UserError) {
        let configuration = self.configuration
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<PostgresFeedFollower, PostgresError>, Never>) in
            DispatchQueue.global().async {
                done.resume(
                    returning: Result { () throws(PostgresError) in
                        let connection = try PostgresConnection(
                            url: configuration.url, connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                            applicationName: "user-rpc-server feed")
                        return try PostgresFeedFollower(configuration: configuration, connection: connection)
                    })
            }
        }
        switch result {
        case .success(let started):
            let previous = follower.withLockedValue { current in
                defer { current = started }
                return current
            }
            previous?.stop()
        case .failure(let error):
            throw Self.domainError(error)
        }
    }

    /// The committed changes of every server of the database, in commit order; `nil` until
    /// ``startChangeFeed()``.
    public var changeFeed: UserChangeFeed? { follower.withLockedValue { $0?.feed } }

    /// A change was committed: the feed numbers and reads it now.
    private func noteCommittedChange() {
        follower.withLockedValue { $0 }?.poke()
    }

    /// Applies pending migrations; returns the versions applied. Safe when several servers start at once.
    public func migrate() async throws(UserError) -> [Int] {
        let result: Result<[Int], UserError>
        do {
            result = try await threads.runIfActive { [self] in
                Result { () throws(UserError) in
                    try runHere(retry: false, cancellation: nil) { connection, _ throws(PostgresError) in
                        let applied = try PostgresMigrator.migrate(connection)
                        // The page token key is read here, on this connection, once it exists: the
                        // set-up that follows (pageTokenKey) needs no connection of its own.
                        if let key = try Self.readPageTokenKey(connection) { tokenKey.withLockedValue { $0 = key } }
                        return applied
                    }
                }
            }
        } catch {
            throw .unavailable("database unavailable: the store is shut down")
        }
        return try result.get()
    }

    /// Copies users from another store as they are (ids, times and versions kept), in transactions
    /// of 1,000; users whose id is already here are skipped. Returns how many were copied and skipped.
    /// A username or email that another user has here is an error naming both.
    public func importUsers(_ users: [User]) async throws(UserError) -> (imported: Int, skipped: Int) {
        let result: Result<(Int, Int), UserError>
        do {
            result = try await threads.runIfActive { [self] in
                Result { () throws(UserError) in
                    try runHere(retry: false, cancellation: nil) { connection, _ throws(PostgresError) -> (Int, Int) in
                        var imported = 0
                        var skipped = 0
                        var start = 0
                        while start < users.count {
                            let chunk = users[start..<min(start + 1000, users.count)]
                            try connection.execute("BEGIN")
                            do throws(PostgresError) {
                                for user in chunk {
                                    let rows = try connection.executePrepared(
                                        "import_user", sql: SQL.importUser,
                                        [
                                            user.id.lowercasedText, user.username, user.email, String(user.createdAtMilliseconds),
                                            String(user.updatedAtMilliseconds), String(user.version),
                                        ])
                                    if rows.rows.isEmpty { skipped += 1 } else { imported += 1 }
                                }
                                try connection.execute("COMMIT")
                            } catch {
                                _ = try? connection.execute("ROLLBACK")
                                throw error
                            }
                            start += chunk.count
                        }
                        return (imported, skipped)
                    }
                }
            }
        } catch {
            throw .unavailable("database unavailable: the store is shut down")
        }
        return try result.get()
    }

    // MARK: UserStore (on the pool's threads, each with its own connection)

    /// The key made by migration 4: read by ``migrate()``, or else once here (on a connection of its
    /// own: this is called at set-up, not on a pool thread), and kept.
    public func pageTokenKey() throws(UserError) -> [UInt8] {
        if let key = tokenKey.withLockedValue({ $0 }) { return key }
        let key: [UInt8]?
        do throws(PostgresError) {
            key = try Self.readPageTokenKey(try PostgresConnection(url: configuration.url))
        } catch {
            throw Self.domainError(error)
        }
        guard let key else { throw .internalError("the page token key in service_secrets is missing: run the migrations") }
        tokenKey.withLockedValue { $0 = key }
        return key
    }

    /// The page token key in `service_secrets`, or `nil` when it is not there (or too short to be one).
    private static func readPageTokenKey(_ connection: PostgresConnection) throws(PostgresError) -> [UInt8]? {
        let rows = try connection.execute("SELECT encode(value, 'hex') FROM service_secrets WHERE name = 'page_token_key'")
        let key = PageTokens.key(hex: rows.rows.first?[0] ?? "")
        return key.count >= 16 ? key : nil
    }

    /// Blocking: calls run on the pool's threads, as many as the pool has connections.
    public var execution: StorageExecution {
        .threads(PoolExecutor(threads: threads, threadCount: max(1, configuration.poolSize), metrics: poolMetrics))
    }

    /// Inserts pipelined (libpq's pipeline mode): one round trip, each in its own transaction.
    public func insert(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>] {
        defer { noteCommittedChange() }
        guard users.count > 1 else {
            return users.map { user in
                Result { () throws(UserError) in
                    let parameters = Self.insertParameters(user)
                    try runHere(retry: true, cancellation: cancellation) { connection, isRetry throws(PostgresError) in
                        try Self.insert(parameters, user: user, on: connection, isRetry: isRetry)
                    }
                }
            }
        }
        let parameterSets = users.map(Self.insertParameters)
        let outcome = Self.runOnPoolThread(slots: slots, configuration: configuration, cancellation: cancellation, retry: true) {
            connection, isRetry throws(PostgresError) -> [Result<Void, PostgresError>] in
            let results = try connection.executePreparedPipeline("insert_user", sql: SQL.insert, parameterSets)
            var outcomes: [Result<Void, PostgresError>] = []
            for (index, result) in results.enumerated() {
                switch result {
                case .success:
                    outcomes.append(.success(()))
                case .failure(let error):
                    // After a retry, a conflict with the row this very insert committed before the
                    // connection broke is a success (see ``insert(_:user:on:isRetry:)``).
                    outcomes.append(
                        Result { () throws(PostgresError) in
                            guard isRetry, error.isUniqueViolation else { throw error }
                            try Self.insert(parameterSets[index], user: users[index], on: connection, isRetry: true)
                        })
                }
            }
            return outcomes
        }
        switch outcome {
        case .success(let results): return results.map { $0.mapError(Self.domainError) }
        case .failure(let error): return users.map { _ in .failure(Self.domainError(error)) }
        }
    }

    /// The users with these ids, in one statement.
    public func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (User) -> Void) throws(UserError) {
        guard !ids.isEmpty else { return }
        let rows: PostgresRows
        if ids.count == 1, let id = ids.first {
            rows = try runHere(retry: true, cancellation: cancellation) { connection, _ throws(PostgresError) in
                try connection.executePrepared("user_by_id", sql: SQL.byID, [id.lowercasedText])
            }
        } else {
            // An array literal of canonical UUID text (hex digits and dashes): a parameter, never SQL text.
            let idArray = "{" + ids.map(\.lowercasedText).joined(separator: ",") + "}"
            rows = try runHere(retry: true, cancellation: cancellation) { connection, _ throws(PostgresError) in
                try connection.executePrepared("users_by_ids", sql: SQL.byIDs, [idArray])
            }
        }
        for row in rows.rows { found(try Self.user(from: row)) }
    }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
        guard let statement = SQL.search(query) else { return [] }
        let rows = try runHere(retry: true, cancellation: cancellation) { connection, _ throws(PostgresError) in
            try connection.executePrepared(statement.name, sql: statement.sql, statement.parameters)
        }
        return try rows.rows.map(Self.user(from:))
    }

    /// One statement: the version test in its WHERE clause, uniqueness by the indexes.
    public func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
        let parameters: [String?] = [
            current.id.lowercasedText, changed.username, changed.email, String(changed.updatedAtMilliseconds), String(changed.version),
            String(current.version), String(current.createdAtMilliseconds),
        ]
        // Not retried on a fresh connection: a change that committed before the connection broke
        // would be refused as another version on the retry. The caller sees UNAVAILABLE and may re-read.
        let rows = try runHere(retry: false, cancellation: cancellation) { connection, _ throws(PostgresError) in
            try connection.executePrepared("replace_user", sql: SQL.replace, parameters)
        }
        if let row = rows.rows.first {
            noteCommittedChange()
            return try Self.user(from: row)
        }
        throw try missingOrOtherVersion(current.id, cancellation: cancellation)
    }

    /// One statement, the version test in its WHERE clause.
    public func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
        let parameters: [String?] = [user.id.lowercasedText, String(user.version), String(user.createdAtMilliseconds)]
        let rows = try runHere(retry: false, cancellation: cancellation) { connection, _ throws(PostgresError) in
            try connection.executePrepared("delete_user", sql: SQL.delete, parameters)
        }
        if rows.rows.isEmpty { throw try missingOrOtherVersion(user.id, cancellation: cancellation) }
        noteCommittedChange()
    }

    /// Why a change or deletion matched no row: the user does not exist, or has another version.
    private func missingOrOtherVersion(_ id: UUID, cancellation: CallCancellation?) throws(UserError) -> UserError {
        let rows = try runHere(retry: true, cancellation: cancellation) { connection, _ throws(PostgresError) in
            try connection.executePrepared("version_by_id", sql: SQL.versionByID, [id.lowercasedText])
        }
        guard let text = rows.rows.first?[0] ?? nil, let current = UInt64(text) else { return .notFound(id: id) }
        return .versionMismatch(id: id, current: current)
    }

    /// ``runOnPoolThread(slots:configuration:cancellation:retry:_:)`` with failures as domain errors.
    private func runHere<T>(
        retry: Bool, cancellation: CallCancellation?, _ body: (PostgresConnection, Bool) throws(PostgresError) -> T
    ) throws(UserError) -> T {
        switch Self.runOnPoolThread(slots: slots, configuration: configuration, cancellation: cancellation, retry: retry, body) {
        case .success(let value): return value
        case .failure(let error): throw Self.domainError(error)
        }
    }

    /// The INSERT, made idempotent on a retry (see ``insert(_:)``).
    private static func insert(_ parameters: [String?], user: User, on connection: PostgresConnection, isRetry: Bool) throws(PostgresError) {
        do throws(PostgresError) {
            try connection.executePrepared("insert_user", sql: SQL.insert, parameters)
        } catch {
            // The first attempt's connection broke after sending the INSERT: it may have committed.
            // If the row with this id is ours, the insert did happen; otherwise the conflict is real.
            guard isRetry, error.isUniqueViolation else { throw error }
            let rows = try connection.executePrepared("user_by_id", sql: SQL.byID, [parameters[0]])
            guard let row = rows.rows.first, row[1] == user.username, row[2] == user.email else { throw error }
        }
    }

    private static func insertParameters(_ user: User) -> [String?] {
        [user.id.lowercasedText, user.username, user.email, String(user.createdAtMilliseconds)]
    }

    // MARK: Running statements

    /// Runs `body` with the calling pool thread's connection (opened, or replaced, as needed).
    ///
    /// When a reused connection turns out to be broken (the database restarted since it was opened),
    /// `body` runs once more on a fresh connection, told so by its second argument.
    private static func runOnPoolThread<T>(
        slots: ThreadSpecificVariable<ConnectionSlot>,
        configuration: PostgresUserStoreConfiguration,
        cancellation: CallCancellation?,
        retry: Bool,
        _ body: (PostgresConnection, Bool) throws(PostgresError) -> T
    ) -> Result<T, PostgresError> {
        let slot = slots.currentValue ?? ConnectionSlot()
        if slots.currentValue == nil { slots.currentValue = slot }
        var attemptsLeft = retry ? 2 : 1
        var isRetry = false
        while true {
            attemptsLeft -= 1
            if cancellation?.isCancelled == true { return .failure(PostgresError(kind: .cancelled, message: "cancelled before it ran")) }
            let reused = slot.connection != nil
            let connection: PostgresConnection
            if let existing = slot.connection, existing.isHealthy {
                connection = existing
            } else {
                slot.connection = nil
                do {
                    connection = try PostgresConnection(url: configuration.url, connectTimeoutSeconds: configuration.connectTimeoutSeconds)
                } catch {
                    return .failure(error)
                }
                slot.connection = connection
            }
            let cancelHandle = connection.cancelHandle
            if let cancellation, !cancellation.begin(onCancel: { cancelHandle.requestCancel() }) {
                return .failure(PostgresError(kind: .cancelled, message: "cancelled before it ran"))
            }
            let result = Result { () throws(PostgresError) in try body(connection, isRetry) }
            cancellation?.end()
            guard case .failure(let error) = result, error.kind == .connection || !connection.isHealthy else { return result }
            // The connection broke: drop it; the next statement on this thread reconnects.
            slot.connection = nil
            if !(reused && attemptsLeft > 0) { return result }
            isRetry = true
        }
    }

    /// The one place where PostgreSQL failures become domain errors.
    static func domainError(_ error: PostgresError) -> UserError {
        switch error.kind {
        case .connection:
            return .unavailable("database unavailable")
        case .cancelled:
            return .deadlineExceeded
        case .server where error.isUniqueViolation:
            let constraint = error.constraint ?? ""
            return .alreadyExists(field: constraint.contains("email") ? "email" : constraint.contains("pkey") ? "id" : "username")
        case .server:
            return .internalError(error.description)
        }
    }

    private static func user(from row: [String?]) throws(UserError) -> User {
        guard row.count == 6, let id = row[0], let username = row[1], let email = row[2], let createdText = row[3],
            let created = Int64(createdText), let updatedText = row[4], let updated = Int64(updatedText), let versionText = row[5],
            let version = UInt64(versionText),
            let user = User(
                storedID: id, username: username, email: email, createdAtMilliseconds: created, updatedAtMilliseconds: updated, version: version)
        else { throw .internalError("unexpected row shape from the users table") }
        return user
    }
}

/// Runs blocking work on the store's pool threads, measuring how long work waits for a thread (and
/// so for its connection) and how many are busy.
private struct PoolExecutor: BlockingExecutor {
    let threads: NIOThreadPool
    let threadCount: Int
    let metrics: PoolMetrics

    func execute(_ work: @escaping @Sendable (Bool) -> Void) {
        let submitted = DispatchTime.now().uptimeNanoseconds
        let metrics = metrics
        threads.submit { state in
            metrics.wait.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- submitted))
            metrics.inUse.increment()
            work(state == .active)
            metrics.inUse.decrement()
        }
    }
}

/// The pool's metrics (swift-metrics; documented in `docs/OPERATIONS.md`).
struct PoolMetrics: Sendable {
    /// `user_rpc_store_pool_connections_in_use`: pool threads (each with its connection) running work.
    let inUse: Meter
    /// `user_rpc_store_pool_wait_seconds`: how long work waited for a free pool thread.
    let wait: Timer

    init(poolSize: Int, factory: any MetricsFactory) {
        inUse = Meter(label: "user_rpc_store_pool_connections_in_use", factory: factory)
        wait = Timer(label: "user_rpc_store_pool_wait_seconds", factory: factory)
        // `user_rpc_store_pool_size`: the pool's connections, busy or not.
        Meter(label: "user_rpc_store_pool_size", factory: factory).set(poolSize)
    }
}
