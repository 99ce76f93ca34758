import Foundation
import StrictJSON
import Testing
import UserRPCClient
import UserRPCTestKit
import UserRPCWire
import UserV2

/// `user.v2.UserService/WatchUsers` on every store, through the client library and raw frames.
@Suite("WatchUsers: the change feed", .timeLimit(.minutes(3)))
struct WatchUsersTests {
    typealias Event = UserServiceV2.UserEvent

    /// Takes `count` events from `events` (the loop ends there).
    static func take(_ count: Int, from events: UserRPCClient.ResumingStream<Event>) async throws(UserRPCError) -> [Event] {
        var taken: [Event] = []
        guard count > 0 else { return taken }
        for try await event in events {
            taken.append(event)
            if taken.count == count { break }
        }
        return taken
    }

    /// The cursor a watch from now starts after: its first message, a bookmark.
    static func startCursor(_ client: UserRPCClient) async throws -> String {
        let first = try await take(1, from: client.v2.watchUsers(bookmarks: true))
        let bookmark = try #require(first.first)
        #expect(bookmark.kind == .bookmark && bookmark.user == nil && bookmark.committedAt == nil)
        return bookmark.cursor
    }

    @Test(
        "every kind of change appears once, in commit order; resuming from each cursor gives exactly the rest",
        arguments: Backend.allCases)
    func everyChangeOnceInOrder(backend: Backend) async throws {
        try await TestServer.start(backend: backend).scoped { server in
            let client = server.client()
            let start = try await Self.startCursor(client)
            let ada = try await client.v2.registerUser(username: "watch.ada", email: "ada@watch.example")
            let bob = try await client.v2.registerUser(username: "watch.bob", email: "bob@watch.example")
            let ada2 = try await client.v2.updateUser(id: ada.id, username: "watch.ada2")
            // Failed calls are never events.
            await #expect(throws: UserRPCError.self) { try await client.v2.registerUser(username: "watch.bob", email: "x@watch.example") }
            await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: bob.id, email: "new@watch.example", expectedVersion: 9) }
            try await client.v2.deleteUser(id: bob.id)
            let cat = try await client.v2.registerUser(username: "watch.cat", email: "cat@watch.example")

            let events = try await Self.take(5, from: client.v2.watchUsers(since: start))
            #expect(events.map(\.kind) == [.registered, .registered, .updated, .deleted, .registered])
            #expect(events.map(\.user) == [ada, bob, ada2, bob, cat])
            #expect(events.allSatisfy { $0.committedAt != nil })
            #expect(Set(events.map(\.cursor)).count == 5)

            // From each cursor: exactly the events after it, then the next change (nothing between).
            let sentinel = try await client.v2.registerUser(username: "watch.end", email: "end@watch.example")
            for (index, event) in events.enumerated() {
                let rest = try await Self.take(events.count - index, from: client.v2.watchUsers(since: event.cursor))
                #expect(rest.map(\.cursor) == events.dropFirst(index + 1).map(\.cursor) + [rest.last?.cursor ?? ""], "after \(index)")
                #expect(rest.last?.user == sentinel && rest.last?.kind == .registered, "after \(index)")
            }
        }
    }

    @Test("every message conforms to the schema's UserEvent, a bookmark too", arguments: [Backend.embedded])
    func conformsToSchema(backend: Backend) async throws {
        let validator = SchemaValidator(schema: UserServiceV2.schema)
        try await TestServer.start(backend: backend).scoped { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(#"{"type":"request","id":1,"method":"user.v2.UserService/WatchUsers","payload":{"bookmarks":true}}"#)
            let bookmark = try await connection.expectFrame()
            #expect(bookmark["type"]?.stringValue == "message")
            #expect(validator.problems(.object(bookmark.payload ?? [:]), message: "UserEvent") == [])
            _ = try await server.client().v2.registerUser(username: "schema.watch", email: "schema@watch.example")
            let event = try await connection.expectFrame()
            #expect(event.payload?["kind"]?.stringValue == "REGISTERED")
            #expect(validator.problems(.object(event.payload ?? [:]), message: "UserEvent") == [])
            await connection.close()
        }
    }

    @Test(
        "another feed's cursor is OUT_OF_RANGE with reason CURSOR_EXPIRED; a text that is no cursor, or one ahead of the feed, INVALID_ARGUMENT",
        arguments: Backend.allCases)
    func badCursors(backend: Backend) async throws {
        try await TestServer.start(backend: backend).scoped { server in
            let client = server.client()
            do throws(UserRPCError) {
                _ = try await Self.take(1, from: client.v2.watchUsers(since: "c1.1.5"))
                Issue.record("a foreign cursor was accepted")
            } catch {
                #expect(error.code == .outOfRange)
                #expect(error.details?["reason"]?.stringValue == "CURSOR_EXPIRED")
            }
            do throws(UserRPCError) {
                _ = try await Self.take(1, from: client.v2.watchUsers(since: "yesterday"))
                Issue.record("a text that is no cursor was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.details?["field_violations"] != nil)
            }
            guard backend != .postgresRedis else { return }  // there, a cursor ahead waits for the fleet's feed
            let start = try await Self.startCursor(client)
            let parts = start.split(separator: ".")
            do throws(UserRPCError) {
                _ = try await Self.take(1, from: client.v2.watchUsers(since: "c1.\(parts[1]).999999"))
                Issue.record("a cursor ahead of the feed was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
    }

    @Test("username_prefix keeps the users whose username starts with it; bookmarks move the cursor past the others", arguments: Backend.allCases)
    func prefixAndBookmarks(backend: Backend) async throws {
        try await TestServer.start(backend: backend).scoped { server in
            let client = server.client()
            let start = try await Self.startCursor(client)
            let wanted = try await client.v2.registerUser(username: "Keep.one", email: "keep1@watch.example")
            _ = try await client.v2.registerUser(username: "drop.one", email: "drop1@watch.example")
            let kept = try await Self.take(1, from: client.v2.watchUsers(since: start, usernamePrefix: "kEEp."))
            #expect(kept.map(\.user) == [wanted])
            // With bookmarks: the event, then a bookmark after the one left out.
            let marked = try await Self.take(3, from: client.v2.watchUsers(since: start, usernamePrefix: "keep.", bookmarks: true))
            #expect(marked.map(\.kind) == [.bookmark, .registered, .bookmark])
            #expect(marked[0].cursor == start)
            // Resuming from that bookmark misses nothing and reads nothing again.
            let next = try await client.v2.registerUser(username: "keep.two", email: "keep2@watch.example")
            let resumed = try await Self.take(1, from: client.v2.watchUsers(since: marked[2].cursor, usernamePrefix: "keep."))
            #expect(resumed.map(\.user) == [next])
        }
    }

    @Test("a watcher that stops reading holds up only its stream: its connection's other calls are answered, and nothing is lost")
    func stalledWatcher() async throws {
        try await TestServer.start(backend: .embedded).scoped { server in
            let client = server.client()
            let start = try await Self.startCursor(client)
            let connection = try await RawConnection.connect(port: server.port)
            // A window of one, never renewed.
            try await connection.send(
                #"{"type":"request","id":1,"method":"user.v2.UserService/WatchUsers","window":1,"payload":{"since":"\#(start)"}}"#)
            var registered: [UUID] = []
            for index in 0..<300 {
                registered.append(try await client.v2.registerUser(username: "stall\(index)", email: "stall\(index)@watch.example").id)
            }
            let first = try await connection.expectFrame()
            #expect(first["type"]?.stringValue == "message" && first.payload?["cursor"] != nil)
            // The same connection answers a unary call at once, past the held stream.
            try await connection.send(
                #"{"type":"request","id":2,"method":"user.v2.UserService/GetUser","payload":{"id":"\#(registered[299].uuidString.lowercased())"}}"#)
            let answer = try await connection.expectFrame()
            #expect(answer["id"]?.intValue == 2 && answer.statusCode == "OK")
            // More credit: the rest arrive in order, none skipped.
            try await connection.send(#"{"type":"credit","id":1,"add":1000}"#)
            var ids = [first.payload?["user"]?.objectValue?["id"]?.stringValue]
            for _ in 1..<300 { ids.append(try await connection.expectFrame().payload?["user"]?.objectValue?["id"]?.stringValue) }
            #expect(ids == registered.map { $0.uuidString.lowercased() })
            await connection.close()
        }
    }
}
