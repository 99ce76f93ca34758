import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore

/// The in-process change feed: commit order, cursors, what is kept, and waiting for the next event.
@Suite("User change feed")
struct UserChangeFeedTests {
    static func user(_ name: String) -> User {
        User(id: UUID(), username: name, email: "\(name)@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("events come in the order they were appended, from any cursor, in batches of at most the limit")
    func order() throws {
        let feed = UserChangeFeed(feedID: 7)
        let start = feed.head
        #expect(start == UserFeedCursor(feedID: 7, position: 0))
        let users = (0..<5).map { Self.user("u\($0)") }
        for user in users { feed.append(.registered, user, committedAt: Date()) }
        feed.append(.deleted, users[0], committedAt: Date())
        let all = try feed.events(after: start, limit: 100)
        #expect(all.map(\.position) == [1, 2, 3, 4, 5, 6])
        #expect(all.map(\.kind) == [.registered, .registered, .registered, .registered, .registered, .deleted])
        #expect(try feed.events(after: start, limit: 2).map(\.position) == [1, 2])
        #expect(try feed.events(after: UserFeedCursor(feedID: 7, position: 4), limit: 100).map(\.position) == [5, 6])
        #expect(try feed.events(after: feed.head, limit: 100).isEmpty)
    }

    @Test("a cursor's text reads back as the same cursor; anything else is not a cursor")
    func cursorText() {
        let cursor = UserFeedCursor(feedID: 0xdead_beef, position: 42)
        #expect(cursor.text == "c1.deadbeef.42")
        #expect(UserFeedCursor(text: cursor.text) == cursor)
        #expect(UserFeedCursor(text: "c1.0.0") == UserFeedCursor(feedID: 0, position: 0))
        for junk in [
            "", "c1", "c1.deadbeef", "c2.deadbeef.42", "c1.DEADBEEF.42", "c1.xyz.1", "c1.1.-1", "c1.1.1.1", "c1.11111111111111111.1",
            // Texts `text` never makes: a sign, a leading zero, digits of other scripts.
            "c1.1.+1", "c1.1.01374", "c1.01.1", "c1.+1.1", "c1.1.١",
        ] {
            #expect(UserFeedCursor(text: junk) == nil, "\(junk)")
        }
    }

    @Test("past the capacity or the retention, an old cursor is expired; another feed's too; one ahead is unknown")
    func expiry() throws {
        let clock = NIOLockedValueBox(Date(timeIntervalSince1970: 1_800_000_000))
        let feed = UserChangeFeed(feedID: 1, capacity: 3, retention: .seconds(60), now: { clock.withLockedValue { $0 } })
        let start = feed.head
        for index in 0..<5 { feed.append(.registered, Self.user("c\(index)"), committedAt: clock.withLockedValue { $0 }) }
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: start, limit: 10) }
        #expect(try feed.events(after: UserFeedCursor(feedID: 1, position: 2), limit: 10).map(\.position) == [3, 4, 5])
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: UserFeedCursor(feedID: 2, position: 2), limit: 10) }
        #expect(throws: UserFeedError.cursorUnknown) { try feed.events(after: UserFeedCursor(feedID: 1, position: 9), limit: 10) }
        // An hour later the events are past their retention, but the newest is kept: the head still reads.
        clock.withLockedValue { $0 += 3600 }
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: UserFeedCursor(feedID: 1, position: 3), limit: 10) }
        #expect(try feed.events(after: feed.head, limit: 10).isEmpty)
        #expect(feed.head.position == 5)
    }

    @Test("wait returns at once when an event is there, when one is appended, and when its task is cancelled")
    func waiting() async throws {
        let feed = UserChangeFeed(feedID: 3)
        let start = feed.head
        let waiter = Task { await feed.wait(after: start) }
        feed.append(.registered, Self.user("w"), committedAt: Date())
        await waiter.value
        await feed.wait(after: start)  // an event is there: no wait
        let head = feed.head
        let cancelled = Task { await feed.wait(after: head) }
        cancelled.cancel()
        await cancelled.value
        #expect(try feed.events(after: start, limit: 10).count == 1)
    }

    @Test("a feed made from kept events goes on after them; events numbered elsewhere are skipped when known, and after a gap start the feed again")
    func loadedAndCopied() throws {
        let users = (0..<6).map { Self.user("l\($0)") }
        let kept = (3...4).map { UserEvent(position: UInt64($0), kind: .registered, user: users[$0], committedAt: Date()) }
        let feed = UserChangeFeed(feedID: 9, head: 4, events: kept, isCopy: true)
        #expect(feed.head.position == 4 && feed.nextPosition == 5)
        #expect(try feed.events(after: UserFeedCursor(feedID: 9, position: 2), limit: 10).map(\.position) == [3, 4])
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: UserFeedCursor(feedID: 9, position: 1), limit: 10) }
        // 4 again (already there), then 5: only 5 is added.
        feed.append(contentsOf: [kept[1], UserEvent(position: 5, kind: .updated, user: users[5], committedAt: Date())])
        #expect(try feed.events(after: UserFeedCursor(feedID: 9, position: 2), limit: 10).map(\.position) == [3, 4, 5])
        // 8 after 5: 6 and 7 were dropped where they were kept before this feed read them.
        feed.append(contentsOf: [UserEvent(position: 8, kind: .deleted, user: users[5], committedAt: Date())])
        #expect(throws: UserFeedError.cursorExpired) { try feed.events(after: UserFeedCursor(feedID: 9, position: 5), limit: 10) }
        #expect(try feed.events(after: UserFeedCursor(feedID: 9, position: 7), limit: 10).map(\.position) == [8])
        // Kept events with a gap (a clock stepped back): only those running up to the head are kept.
        let gapped = UserChangeFeed(
            feedID: 9, head: 6, events: [3, 5, 6].map { UserEvent(position: $0, kind: .registered, user: users[0], committedAt: Date()) })
        #expect(try gapped.events(after: UserFeedCursor(feedID: 9, position: 4), limit: 10).map(\.position) == [5, 6])
        #expect(throws: UserFeedError.cursorExpired) { try gapped.events(after: UserFeedCursor(feedID: 9, position: 3), limit: 10) }
        // An empty feed after position 41 starts at 42.
        let empty = UserChangeFeed(feedID: 9, head: 41)
        #expect(empty.append(.registered, users[0]).position == 42)
    }

    @Test("a watch: since must be a cursor, the prefix is case-insensitive, a cursor ahead of the feed is refused, or waited for by a copy")
    func watch() async throws {
        #expect(throws: UserError.self) { try UserChangeWatch(feed: UserChangeFeed(), since: "c1.zz.1", usernamePrefix: nil) }
        #expect(throws: UserError.self) {
            try UserChangeWatch(feed: UserChangeFeed(), since: nil, usernamePrefix: String(repeating: "a", count: 101))
        }
        let feed = UserChangeFeed(feedID: 5)
        let watch = try UserChangeWatch(feed: feed, since: nil, usernamePrefix: "AL")
        #expect(watch.start == feed.head)
        #expect(watch.wants(UserEvent(position: 1, kind: .registered, user: Self.user("alice"), committedAt: Date())))
        #expect(!watch.wants(UserEvent(position: 1, kind: .registered, user: Self.user("bob"), committedAt: Date())))
        await #expect(throws: UserError.self) { try await watch.events(after: UserFeedCursor(feedID: 5, position: 3), limit: 10) }
        await #expect(throws: UserError.feedCursorExpired) { try await watch.events(after: UserFeedCursor(feedID: 6, position: 0), limit: 10) }

        // A copy of a shared feed has not caught up: the watch waits for the events, then reads them.
        let copy = UserChangeFeed(feedID: 5, isCopy: true)
        let copyWatch = try UserChangeWatch(feed: copy, since: nil, usernamePrefix: nil)
        let reading = Task { try await copyWatch.events(after: UserFeedCursor(feedID: 5, position: 1), limit: 10) }
        copy.append(contentsOf: (1...2).map { UserEvent(position: UInt64($0), kind: .registered, user: Self.user("c\($0)"), committedAt: Date()) })
        #expect(try await reading.value.map(\.position) == [2])
    }
}
