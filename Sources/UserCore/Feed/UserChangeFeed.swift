#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One committed change of a user, as a change feed delivers it.
public struct UserEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable {
        case registered = "REGISTERED"
        case updated = "UPDATED"
        case deleted = "DELETED"
    }

    /// The event's place in its feed's commit order: 1 for the first, one more for each.
    public var position: UInt64
    public var kind: Kind
    /// The user after the change; for a deletion, the user as it was when deleted (its id and version).
    public var user: User
    /// When the change was committed.
    public var committedAt: Date

    public init(position: UInt64, kind: Kind, user: User, committedAt: Date) {
        self.position = position
        self.kind = kind
        self.user = user
        self.committedAt = committedAt
    }
}

/// Where a watcher is in a feed: after the event at `position` of the feed `feedID` (0: before the
/// first). Its text form is opaque to clients.
public struct UserFeedCursor: Sendable, Hashable {
    /// Which feed: a feed made anew (an in-memory store restarted) has another id, so a cursor of
    /// the old one is never read as a place in the new one.
    public var feedID: UInt64
    public var position: UInt64

    public init(feedID: UInt64, position: UInt64) {
        self.feedID = feedID
        self.position = position
    }

    /// `c1.<feed id in hex>.<position>`.
    public var text: String { "c1.\(String(feedID, radix: 16)).\(position)" }

    /// The cursor of this text, or `nil` when it is not one.
    public init?(text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        // Only the text `text` makes: lower-case hex and decimal digits, no sign, no leading zero.
        func canonical(_ part: Substring, digits: (Character) -> Bool) -> Bool {
            !part.isEmpty && part.count <= 20 && part.allSatisfy(digits) && (part == "0" || part.first != "0")
        }
        guard parts.count == 3, parts[0] == "c1", parts[1].count <= 16,
            canonical(parts[1], digits: { $0.isASCII && ($0.isNumber || ("a"..."f").contains($0)) }),
            canonical(parts[2], digits: { $0.isASCII && $0.isNumber }),
            let feedID = UInt64(parts[1], radix: 16), let position = UInt64(parts[2])
        else { return nil }
        self.init(feedID: feedID, position: position)
    }
}

/// Why a feed cannot be read from a cursor.
public enum UserFeedError: Error, Sendable, Hashable {
    /// The events after the cursor are no longer kept (older than the retention), or the cursor is
    /// of another feed: the watcher must resync (read the users again) and watch from now.
    case cursorExpired
    /// The cursor is ahead of the feed: it was never given by this feed.
    case cursorUnknown
}

/// The changes of one store in commit order, kept for a while, for watchers to read from any
/// cursor and to wait for the next: the in-process feed (the embedded stores' own, and each
/// server's copy of a shared database's).
///
/// Writers append in commit order (the store's writer does, after each commit); readers pull
/// batches after their cursor and wait when they have read everything, so a watcher that reads
/// slowly costs no buffer of its own. Thread-safe.
public final class UserChangeFeed: Sendable {
    private struct State {
        /// The kept events, oldest first: positions `firstPosition ..< firstPosition + events.count`.
        var events: [UserEvent] = []
        var firstPosition: UInt64 = 1
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// This feed's id, in every cursor it gives.
    public let feedID: UInt64
    /// How many events are kept at most; older ones are dropped first.
    public let capacity: Int
    /// How long an event is kept.
    public let retention: Duration
    private let now: @Sendable () -> Date
    private let state = ReadWriteLocked(State())

    /// Whether this feed copies a feed kept elsewhere (a shared database's, which other servers
    /// append to): a cursor ahead of it may be one it has not caught up with yet, rather than unknown.
    public let isCopy: Bool

    /// A feed keeping up to `capacity` events for `retention`, with the given id (random by default),
    /// after position `head`, starting with `events` (a durable store's, read back at start-up, oldest
    /// first): those of them whose positions run without a gap up to `head`.
    public init(
        feedID: UInt64 = .random(in: 1...UInt64.max), capacity: Int = 100_000, retention: Duration = .seconds(3600),
        head: UInt64 = 0, events: [UserEvent] = [], isCopy: Bool = false, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.feedID = feedID
        self.capacity = max(1, capacity)
        self.retention = retention
        self.isCopy = isCopy
        self.now = now
        var initial = State()
        // The newest events that follow each other up to the head (a clock stepped back can leave a
        // gap in what a store kept by time: the events before it are as good as dropped).
        var kept = events.endIndex
        while kept > events.startIndex, events[kept - 1].position == (kept == events.endIndex ? head : events[kept].position - 1) {
            kept -= 1
        }
        if kept < events.endIndex {
            initial.events = Array(events[kept...])
            initial.firstPosition = events[kept].position
        } else {
            initial.firstPosition = head + 1
        }
        state.write { $0 = initial }
    }

    /// The position the next appended event takes.
    public var nextPosition: UInt64 {
        state.read { $0.firstPosition + UInt64($0.events.count) }
    }

    /// The cursor of an event of this feed.
    public func cursor(of event: UserEvent) -> UserFeedCursor {
        UserFeedCursor(feedID: feedID, position: event.position)
    }

    /// The cursor after the last event so far: where a watcher without a cursor starts.
    public var head: UserFeedCursor {
        state.read { UserFeedCursor(feedID: feedID, position: $0.firstPosition + UInt64($0.events.count) - 1) }
    }

    /// Appends a committed change (the writer calls this in commit order) and wakes the waiting
    /// readers; committed now (by the feed's clock) unless `committedAt` says when.
    @discardableResult
    public func append(_ kind: UserEvent.Kind, _ user: User, committedAt: Date? = nil) -> UserEvent {
        let now = self.now()
        let committedAt = committedAt ?? now
        let (event, waiters) = state.write { state in
            let event = UserEvent(
                position: state.firstPosition + UInt64(state.events.count), kind: kind, user: user, committedAt: committedAt)
            state.events.append(event)
            dropExpired(&state, now: now)
            defer { state.waiters = [:] }
            return (event, Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume() }
        return event
    }

    /// Appends events numbered elsewhere (a shared database's positions), oldest first, and wakes the
    /// waiting readers. Events this feed already has are skipped; a gap (the events between were
    /// dropped elsewhere before this feed read them) starts the feed again at the first new event:
    /// cursors before it are expired.
    public func append(contentsOf events: [UserEvent]) {
        let waiters = state.write { state -> [CheckedContinuation<Void, Never>] in
            var added = false
            for event in events {
                let next = state.firstPosition + UInt64(state.events.count)
                if event.position < next { continue }
                if event.position > next {
                    state.events.removeAll()
                    state.firstPosition = event.position
                }
                state.events.append(event)
                added = true
            }
            guard added else { return [] }
            dropExpired(&state, now: now())
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Up to `limit` events after `cursor`, in commit order; empty when there are none yet.
    public func events(after cursor: UserFeedCursor, limit: Int) throws(UserFeedError) -> [UserEvent] {
        guard cursor.feedID == feedID else { throw .cursorExpired }
        let oldest = oldestKept(now: now())
        // A shared lock: the many watchers of a feed read it at once (only appends drop events).
        return try state.read { state throws(UserFeedError) in
            let next = state.firstPosition + UInt64(state.events.count)
            guard cursor.position < next else {
                if cursor.position == next - 1 { return [] }
                throw .cursorUnknown
            }
            guard cursor.position + 1 >= state.firstPosition else { throw .cursorExpired }
            let start = Int(cursor.position + 1 - state.firstPosition)
            // The next event is past the retention (and not the newest, which is always kept): what
            // followed the cursor is as good as dropped.
            if start < state.events.count - 1, state.events[start].committedAt < oldest { throw .cursorExpired }
            return Array(state.events[start..<min(state.events.count, start + max(1, limit))])
        }
    }

    /// Returns once an event after `cursor` is there (at once if one is), or the task is cancelled.
    public func wait(after cursor: UserFeedCursor) async {
        // Another feed's cursor: `events(after:)` says it is expired, at once.
        guard cursor.feedID == feedID else { return }
        let waiter = state.write { state -> UInt64? in
            guard state.firstPosition + UInt64(state.events.count) - 1 <= cursor.position else { return nil }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        guard let waiter else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.write { state -> Bool in
                    guard !Task.isCancelled, state.firstPosition + UInt64(state.events.count) - 1 <= cursor.position else { return true }
                    state.waiters[waiter] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.write { $0.waiters.removeValue(forKey: waiter) }
            continuation?.resume()
        }
    }

    /// The commit time before which events are past the retention.
    private func oldestKept(now: Date) -> Date {
        now.addingTimeInterval(-retention.timeInterval)
    }

    /// Drops events beyond the capacity and older than the retention (the newest is always kept,
    /// so the head's position stays known).
    private func dropExpired(_ state: inout State, now: Date) {
        // Past the capacity, a sixteenth more is dropped at once, so that appends at capacity do not
        // move the whole array each time.
        var drop = state.events.count > capacity ? state.events.count - capacity + capacity / 16 : 0
        let oldest = oldestKept(now: now)
        while drop < state.events.count - 1, state.events[drop].committedAt < oldest { drop += 1 }
        guard drop > 0 else { return }
        state.events.removeFirst(drop)
        state.firstPosition += UInt64(drop)
    }
}
