import Foundation
import NIOConcurrencyHelpers
import UserCore

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps one server's copy of a shared database's change feed (`user_events`) and numbers the
/// database's committed events (the sequencer).
///
/// One thread with its own connection, which `LISTEN`s on `user_events`. It wakes when this
/// server committed a change (``poke()``), when another server's sequencer numbered events (a
/// notification), and once a second in any case (events whose writer went away before numbering
/// them). Each time it numbers what is committed and unnumbered (one pass at a time across the
/// fleet: a transaction-scoped advisory lock), notifies the other servers if it numbered any, and
/// appends every numbered event it has not seen to ``feed``. Once a minute it deletes the events
/// past the retention.
final class PostgresFeedFollower: @unchecked Sendable {
    // `@unchecked Sendable`: `connection`, `lastPruned` and `head` belong to the follower's thread;
    // the other members are immutable or thread-safe (the pipe's descriptors, the atomic flag).

    let feed: UserChangeFeed
    private let configuration: PostgresUserStoreConfiguration
    private var connection: PostgresConnection?
    private var lastPruned = ContinuousClock.now
    /// When the last pass began: passes are at least ``passSpacing`` apart, so that a stream of
    /// writes is numbered in a few durable commits rather than one each.
    private var lastPass = ContinuousClock.now - .seconds(1)
    /// When the numbered events after the feed's head were last read (at least once a second).
    private var lastRead = ContinuousClock.now - .seconds(1)
    /// The least time between two passes: 5 ms (what it adds to a change's way to its watchers, at most).
    static let passSpacing = Duration.milliseconds(5)
    /// Wakes the thread: ``poke()`` and ``stop()`` write a byte.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let pokePending = NIOLockedValueBox(false)
    private let stopping = NIOLockedValueBox(false)
    private let stopped = ConditionLock(value: false)

    /// Reads the feed's id and its kept events on `connection` (the database must be migrated), then
    /// starts the thread, which keeps the connection.
    init(configuration: PostgresUserStoreConfiguration, connection: PostgresConnection) throws(PostgresError) {
        self.configuration = configuration
        let feedConfiguration = configuration.feed
        try connection.execute("LISTEN user_events")
        let idRows = try connection.execute("SELECT encode(value, 'hex') FROM service_secrets WHERE name = 'feed_id'")
        guard let idText = idRows.rows.first?[0] ?? nil, let feedID = UInt64(idText, radix: 16) else {
            throw PostgresError(kind: .server, message: "the feed id in service_secrets is missing: run the migrations")
        }
        // Number what is waiting first, so the feed starts after everything committed so far.
        try Self.sequence(connection)
        let head = UInt64(
            try connection.execute("SELECT COALESCE(max(position), 0) FROM user_events").rows.first?[0].flatMap {
                Int64($0)
            } ?? 0)
        let events = try Self.events(
            after: head > UInt64(feedConfiguration.capacity) ? head - UInt64(feedConfiguration.capacity) : 0, limit: feedConfiguration.capacity,
            newerThan: feedConfiguration.retention, on: connection)
        feed = UserChangeFeed(
            feedID: feedID, capacity: feedConfiguration.capacity, retention: feedConfiguration.retention, head: head, events: events,
            isCopy: true)
        self.connection = connection
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw PostgresError(kind: .connection, message: "cannot make a pipe: errno \(errno)") }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        (wakeRead, wakeWrite) = (descriptors[0], descriptors[1])
        let thread = Thread { [self] in
            run()
            stopped.lock()
            stopped.unlock(withValue: true)
        }
        thread.name = "user-rpc-feed"
        thread.start()
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// This server committed a change: number it and read it now rather than at the next tick.
    func poke() {
        let wasPending = pokePending.withLockedValue { pending in
            defer { pending = true }
            return pending
        }
        if !wasPending { wake() }
    }

    /// Stops the thread and closes its connection; returns once it has stopped. Blocking.
    func stop() {
        stopping.withLockedValue { $0 = true }
        wake()
        stopped.lock(whenValue: true)
        stopped.unlock()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private var isStopping: Bool { stopping.withLockedValue { $0 } }

    private func run() {
        while !isStopping {
            do throws(PostgresError) {
                let connection = try connected()
                try follow(connection)
            } catch {
                // The database is gone for now: the connection is dropped, and made again after a second.
                connection = nil
                waitForWakeUp(socket: -1, milliseconds: 1000)
            }
        }
        connection = nil
    }

    private func connected() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isHealthy { return connection }
        let fresh = try PostgresConnection(
            url: configuration.url, connectTimeoutSeconds: configuration.connectTimeoutSeconds, applicationName: "user-rpc-server feed")
        try fresh.execute("LISTEN user_events")
        connection = fresh
        return fresh
    }

    /// One pass, then a wait, as long as the connection works.
    private func follow(_ connection: PostgresConnection) throws(PostgresError) {
        while !isStopping {
            let sinceLast = ContinuousClock.now - lastPass
            if sinceLast < Self.passSpacing {
                waitForWakeUp(socket: -1, milliseconds: Int32((Self.passSpacing - sinceLast).components.attoseconds / 1_000_000_000_000_000) + 1)
                continue
            }
            lastPass = ContinuousClock.now
            pokePending.withLockedValue { $0 = false }
            // Another server numbered events (its notification), or a second has passed: read what is new.
            let pid = connection.backendPID
            var readAll = try connection.takeNotifications().contains { $0.senderPID != pid }
            if ContinuousClock.now - lastRead > .seconds(1) { readAll = true }
            // The events this pass numbered follow the feed's head unless another server numbered some
            // since this one last read: then they are read with the others.
            let numbered = try Self.sequence(connection)
            if let first = numbered.first, first.position == feed.nextPosition, !readAll {
                feed.append(contentsOf: numbered)
            } else if !numbered.isEmpty {
                readAll = true
            }
            if readAll {
                lastRead = ContinuousClock.now
                try readNew(connection)
            }
            if ContinuousClock.now - lastPruned > .seconds(60) {
                lastPruned = ContinuousClock.now
                try prune(connection)
            }
            waitForWakeUp(socket: connection.socket, milliseconds: 1000)
        }
    }

    /// Appends the numbered events after the feed's head.
    private func readNew(_ connection: PostgresConnection) throws(PostgresError) {
        while true {
            let head = feed.nextPosition - 1
            let events = try Self.events(after: head, limit: 1000, newerThan: nil, on: connection)
            feed.append(contentsOf: events)
            if events.count < 1000 { return }
        }
    }

    private func prune(_ connection: PostgresConnection) throws(PostgresError) {
        try connection.execute(
            Self.pruneSQL, [String(configuration.feed.retention.components.seconds), String(configuration.feed.capacity)])
    }

    /// Waits until the socket has input, a wake-up byte arrives, or the time passes.
    private func waitForWakeUp(socket: Int32, milliseconds: Int32) {
        var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
        var drain = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &drain, drain.count) > 0 {}
    }

    // MARK: SQL

    /// An arbitrary, fixed key for the sequencer's `pg_advisory_xact_lock` (the migrator's plus one).
    static let sequencerLockKey = "8462377418497499460"

    /// Numbers the committed pending events after the highest position, in the order of their
    /// transactions' ids, and notifies the other servers when it numbered any; returns the events it
    /// numbered, in order. One pass at a time, fleet-wide.
    @discardableResult
    static func sequence(_ connection: PostgresConnection) throws(PostgresError) -> [UserEvent] {
        // READ COMMITTED whatever the database's default: each statement's snapshot is taken when it
        // starts, so the numbering statement sees every pass committed before the lock was granted.
        try connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(\(sequencerLockKey))")
        let events: [UserEvent]
        do throws(PostgresError) {
            events = try Self.events(from: try connection.executePrepared("sequence_events", sql: sequenceSQL, []))
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
        return events.sorted { $0.position < $1.position }
    }

    /// Moves the committed pending events into the feed, each with the next position, in the order
    /// of their transactions' ids, stamped with the time, and notifies `user_events` once when it
    /// moved any (delivered at commit); answers the events numbered. The statement's snapshot is
    /// taken after the lock: it sees every earlier pass's positions, and the pending events of the
    /// transactions committed by then (those still running stay for a later pass).
    static let sequenceSQL = """
        WITH moved AS (DELETE FROM user_events_pending RETURNING *),
             head AS (SELECT COALESCE(max(position), 0) AS position FROM user_events),
             numbered AS (
                 INSERT INTO user_events (position, kind, user_id, username, email, created_at_ms, updated_at_ms, version, committed_at)
                 SELECT head.position + row_number() OVER (ORDER BY moved.xid), kind, user_id, username, email, created_at_ms,
                        updated_at_ms, version, clock_timestamp()
                 FROM moved, head
                 RETURNING \(eventColumns))
        SELECT numbered.* FROM numbered CROSS JOIN (SELECT pg_notify('user_events', '') FROM numbered LIMIT 1) AS notified
        """

    /// Up to `limit` numbered events after `position`, oldest first (only those committed within
    /// `newerThan`, when given).
    static func events(after position: UInt64, limit: Int, newerThan: Duration?, on connection: PostgresConnection) throws(PostgresError)
        -> [UserEvent]
    {
        let rows = try connection.executePrepared(
            newerThan == nil ? "events_after" : "recent_events_after", sql: newerThan == nil ? eventsSQL : recentEventsSQL,
            [String(position), String(limit)] + (newerThan.map { [String($0.components.seconds)] } ?? []))
        return try events(from: rows)
    }

    /// The events of rows of ``eventColumns``, in the rows' order.
    static func events(from rows: PostgresRows) throws(PostgresError) -> [UserEvent] {
        var events: [UserEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows.rows {
            guard row.count == 9, let position = row[0].flatMap({ UInt64($0) }), let kind = row[1].flatMap(UserEvent.Kind.init(rawValue:)),
                let id = row[2], let username = row[3], let email = row[4], let created = row[5].flatMap({ Int64($0) }),
                let updated = row[6].flatMap({ Int64($0) }), let version = row[7].flatMap({ UInt64($0) }),
                let committed = row[8].flatMap({ Int64($0) }),
                let user = User(
                    storedID: id, username: username, email: email, createdAtMilliseconds: created, updatedAtMilliseconds: updated,
                    version: version)
            else { throw PostgresError(kind: .server, message: "unexpected row shape from user_events") }
            events.append(
                UserEvent(position: position, kind: kind, user: user, committedAt: Date(timeIntervalSince1970: Double(committed) / 1000)))
        }
        return events
    }

    private static let eventColumns = """
        position, kind, user_id, username, email, created_at_ms, updated_at_ms, version,
        (extract(epoch FROM committed_at) * 1000)::bigint
        """
    static let eventsSQL = """
        SELECT \(eventColumns) FROM user_events WHERE position > $1::bigint ORDER BY position LIMIT $2::integer
        """
    static let recentEventsSQL = """
        SELECT \(eventColumns) FROM user_events
        WHERE position > $1::bigint AND committed_at >= now() - $3::bigint * interval '1 second'
        ORDER BY position LIMIT $2::integer
        """
    /// Events older than `$1` seconds or beyond the newest `$2`, but never the newest (its position
    /// is where the feed goes on).
    static let pruneSQL = """
        DELETE FROM user_events
        WHERE position < (SELECT max(position) FROM user_events)
          AND (committed_at < now() - $1::bigint * interval '1 second' OR position <= (SELECT max(position) FROM user_events) - $2::bigint)
        """
}
