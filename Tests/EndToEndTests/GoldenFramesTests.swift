import Foundation
import HealthV1
import NIOCore
import ReflectionV1
import StrictJSON
import Testing
import UserCore
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserService
import UserV1
import UserV2

/// Every method of the four schemas, its request frames as the client library encodes them and the
/// server's answers (success and each documented error), byte for byte against
/// `Golden/frames.txt`: the wire contract, recorded before the messages were generated from the
/// schemas and held to since.
///
/// The server runs on the in-memory store with a pinned clock and a fixed page-token key, every
/// registration carries an idempotency key (so ids are derived, not random) and every request an
/// `x-request-id` (so none is generated): the answers are the same on every run. Set
/// `GOLDEN_RECORD=1` to write the file anew (then review its diff: it is the wire).
@Suite("Golden frames")
struct GoldenFramesTests {
    static let goldenPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/frames.txt").path

    @Test("every method's request and response frames are byte-identical to the recorded ones")
    func framesMatchTheRecording() async throws {
        let pinned = Date(timeIntervalSince1970: 1_767_225_600.123)  // 2026-01-01T00:00:00.123Z
        let operations = UserOperations(
            repository: UserRepository(store: InMemoryUserStore(changeFeed: UserChangeFeed(feedID: 0x601d, now: { pinned }))), now: { pinned },
            pageTokenKey: [UInt8](repeating: 7, count: 32))
        // The services as the server binary makes them (UserRPCApplication), over a pinned clock.
        let transcript = try await TestServer.start(repository: operations.repository, operations: operations).scoped { server in
            let connection = try await server.rawConnection()
            var transcript = Transcript(connection: connection)
            try await Self.runScript(&transcript)
            await connection.close()
            return transcript
        }

        if ProcessInfo.processInfo.environment["GOLDEN_RECORD"] == "1" {
            try (transcript.lines.joined(separator: "\n") + "\n").write(toFile: Self.goldenPath, atomically: true, encoding: .utf8)
        }
        let recorded = try String(contentsOfFile: Self.goldenPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
        #expect(transcript.lines.count == recorded.count)
        for (index, (actual, expected)) in zip(transcript.lines, recorded).enumerated() where actual != expected {
            Issue.record("line \(index + 1) differs:\n  now:      \(actual)\n  recorded: \(expected)")
        }
    }

    /// The calls, in order: each method's success first, then its documented errors.
    static func runScript(_ t: inout Transcript) async throws {
        let v1 = UserServiceV1.self
        let v2 = UserServiceV2.self
        // user.v1
        let ada = try await t.call(v1.registerUser, RegisterUserRequest(username: "ada", email: "ada@example.com"), key: "golden-ada")
        try await t.call(v1.registerUser, RegisterUserRequest(username: "ada", email: "ada@example.com"), key: "golden-ada")  // repeat
        try await t.call(v1.registerUser, RegisterUserRequest(username: "ada", email: "other@example.com"), key: "golden-ada")  // other fields
        try await t.call(v1.registerUser, RegisterUserRequest(username: "ADA", email: "other@example.com"), key: "golden-2")
        try await t.call(v1.registerUser, RegisterUserRequest(username: "bob", email: "ADA@example.com"), key: "golden-3")
        try await t.call(v1.registerUser, RegisterUserRequest(username: "_x", email: "nope"), key: "golden-4")
        try await t.call(v1.registerUser, RegisterUserRequest(username: "ok1", email: "ok1@example.com"), key: "not a key!")
        try await t.raw(v1.registerUser, #"{}"#)
        try await t.raw(v1.registerUser, #"{"username":"ok1","email":"ok1@example.com","extra":1}"#)
        try await t.raw(v1.registerUser, #"{"username":5,"email":null}"#)
        let bob = try await t.call(v1.registerUser, RegisterUserRequest(username: "bob", email: "bob@example.com"), key: "golden-bob")
        try await t.call(v1.registerUser, RegisterUserRequest(username: "carol", email: "carol@example.com"), key: "golden-carol")

        try await t.call(v1.getUser, GetUserRequest(id: try #require(ada["id"]?.stringValue.flatMap(UUID.init(uuidString:)))))
        try await t.call(v1.getUser, GetUserRequest(id: UUID(uuidString: "00000000-0000-7000-8000-000000000001")!))
        try await t.raw(v1.getUser, #"{"id":"nope"}"#)
        try await t.raw(v1.getUser, #"{}"#)

        let page = try await t.call(v1.searchUsers, SearchUsersRequest(limit: 2))
        try await t.call(v1.searchUsers, SearchUsersRequest(limit: 2, pageToken: page["next_page_token"]?.stringValue))
        try await t.call(v1.searchUsers, SearchUsersRequest(username: "B"))
        try await t.call(v1.searchUsers, SearchUsersRequest(email: "BOB@example.com"))
        try await t.call(v1.searchUsers, SearchUsersRequest())
        try await t.call(v1.searchUsers, SearchUsersRequest(limit: 0))
        try await t.call(v1.searchUsers, SearchUsersRequest(limit: 2, pageToken: "not-a-token"))
        try await t.call(v1.searchUsers, SearchUsersRequest(limit: 3, pageToken: page["next_page_token"]?.stringValue))

        // user.v2
        let dora = try await t.call(
            v2.registerUser, UserServiceV2.RegisterUserRequest(username: "dora", email: "dora@example.com"), key: "golden-dora")
        try await t.call(v2.registerUser, UserServiceV2.RegisterUserRequest(username: "DORA", email: "x@example.com"), key: "golden-5")
        try await t.raw(v2.registerUser, #"{"username":"d"}"#)
        let doraID = try #require(dora["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        let bobID = try #require(bob["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        try await t.call(v2.getUser, UserServiceV2.GetUserRequest(id: doraID))
        try await t.call(v2.getUser, UserServiceV2.GetUserRequest(id: UUID(uuidString: "00000000-0000-7000-8000-000000000002")!))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID, email: "dora@explorer.org", expectedVersion: 1))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID, username: "Dora"))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID, username: "Dora"))  // no change
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID, username: "dora2", expectedVersion: 1))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: doraID, username: "_x", email: "nope"))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: bobID, email: "DORA@explorer.org"))
        try await t.call(v2.updateUser, UserServiceV2.UpdateUserRequest(id: bobID, username: "dora"))
        try await t.call(
            v2.updateUser, UserServiceV2.UpdateUserRequest(id: UUID(uuidString: "00000000-0000-7000-8000-000000000003")!, username: "zed"))
        try await t.raw(v2.updateUser, #"{"id":"\#(doraID.uuidString.lowercased())","expected_version":-1}"#)
        try await t.call(v2.searchUsers, UserServiceV2.SearchUsersRequest(username: "d", limit: 5))
        try await t.call(v2.deleteUser, UserServiceV2.DeleteUserRequest(id: doraID, expectedVersion: 1))
        try await t.call(v2.deleteUser, UserServiceV2.DeleteUserRequest(id: doraID, expectedVersion: 3))
        try await t.call(v2.deleteUser, UserServiceV2.DeleteUserRequest(id: doraID))
        try await t.call(v2.getUser, UserServiceV2.GetUserRequest(id: doraID))
        try await t.call(v1.getUser, GetUserRequest(id: bobID))
        // WatchUsers from the feed's start: its first event; a text that is no cursor; another feed's cursor.
        try await t.watchThenCancel(v2.watchUsers, UserServiceV2.WatchUsersRequest(since: "c1.601d.0"), window: 1)
        try await t.raw(method: v2.watchUsers.fullName, #"{"since":"nope"}"#)
        try await t.raw(method: v2.watchUsers.fullName, #"{"since":"c1.ffff.1"}"#)

        // health.v1 and reflection.v1
        try await t.call(HealthServiceV1.check, HealthCheckRequest())
        try await t.call(HealthServiceV1.check, HealthCheckRequest(service: "user.v2.UserService"))
        try await t.call(HealthServiceV1.check, HealthCheckRequest(service: "nope.v1.Nothing"))
        try await t.watchThenCancel(HealthServiceV1.watch, HealthCheckRequest(), window: 4)
        try await t.call(ReflectionServiceV1.listServices, ListServicesRequest())
        try await t.call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: "user.v1"))
        try await t.call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: "user.v2.UserService"))
        try await t.call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: "health.v1.Health"))
        try await t.call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: "reflection.v1"))
        try await t.call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: "nope.v1"))
        try await t.raw(ReflectionServiceV1.describeService, #"{}"#)

        // A method no schema has.
        try await t.raw(method: "user.v1.UserService/Nothing", #"{}"#)
    }
}

/// The frames of one connection, as `> request` and `< response` lines.
struct Transcript {
    let connection: RawConnection
    var lines: [String] = []
    private var nextID: UInt64 = 1

    init(connection: RawConnection) {
        self.connection = connection
    }

    /// Sends `request` as the client library encodes it; returns the answer's payload (empty when
    /// the call failed).
    @discardableResult
    mutating func call<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor<Request, Response>, _ request: Request, key: String? = nil
    ) async throws -> JSONObject {
        var metadata = ["x-request-id": "golden-\(nextID)"]
        if let key { metadata["idempotency-key"] = key }
        var buffer = ByteBuffer()
        RequestFrameEncoder(method: method.fullName, timeoutMilliseconds: nil, metadata: metadata).writeFrame(
            id: nextID, message: request, into: &buffer)
        buffer.moveReaderIndex(forwardBy: 4)
        return try await exchange(Array(buffer.readableBytesView))
    }

    /// Opens a stream as the client library does, reads its first message, then cancels it and reads
    /// its end.
    mutating func watchThenCancel<Request: RPCMessage, Response: RPCMessage>(
        _ method: ServerStreamingMethodDescriptor<Request, Response>, _ request: Request, window: UInt64
    ) async throws {
        let id = nextID
        var buffer = ByteBuffer()
        RequestFrameEncoder(method: method.fullName, timeoutMilliseconds: nil, metadata: ["x-request-id": "golden-\(id)"], window: window)
            .writeFrame(id: id, message: request, into: &buffer)
        buffer.moveReaderIndex(forwardBy: 4)
        _ = try await exchange(Array(buffer.readableBytesView))
        var cancel = ByteBuffer()
        ClientFrame.writeControl("cancel", id: id, into: &cancel)
        cancel.moveReaderIndex(forwardBy: 4)
        let body = String(decoding: cancel.readableBytesView, as: UTF8.self)
        lines.append("> " + body)
        try await connection.send(body)
        let end = try #require(try await connection.nextBody())
        lines.append("< " + String(decoding: end, as: UTF8.self))
    }

    /// Sends a request whose payload is `payload` as it is (what the typed messages cannot say).
    @discardableResult
    mutating func raw<Request, Response>(_ method: MethodDescriptor<Request, Response>, _ payload: String) async throws -> JSONObject {
        try await raw(method: method.fullName, payload)
    }

    @discardableResult
    mutating func raw(method: String, _ payload: String) async throws -> JSONObject {
        let encoder = RequestFrameEncoder(method: method, timeoutMilliseconds: nil, metadata: ["x-request-id": "golden-\(nextID)"])
        return try await exchange(encoder.body(id: nextID, payload: Array(payload.utf8)))
    }

    private mutating func exchange(_ body: [UInt8]) async throws -> JSONObject {
        nextID += 1
        lines.append("> " + String(decoding: body, as: UTF8.self))
        try await connection.send(String(decoding: body, as: UTF8.self))
        let answer = try #require(try await connection.nextBody())
        lines.append("< " + String(decoding: answer, as: UTF8.self))
        guard case .object(let frame) = try JSONParser().parse(answer) else { return [:] }
        return frame.payload ?? [:]
    }
}
