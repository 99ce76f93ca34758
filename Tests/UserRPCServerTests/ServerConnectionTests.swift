import NIOCore
import NIOEmbedded
import StrictJSON
import Testing
import UserRPCServer
import UserRPCWire

/// The connection's behaviour as a client written from `docs/PROTOCOL.md` sees it, on an
/// `EmbeddedChannel` with a manual clock: no sockets, no waiting.
@Suite("Server connection")
struct ServerConnectionTests {
    static func request(_ id: UInt64, _ method: String = "Echo", text: String = "t", extra: String = "") -> String {
        #"{"type":"request","id":\#(id),"method":"test.v1.Test/\#(method)"\#(extra),"payload":{"text":"\#(text)"}}"#
    }

    @Test("graceful shutdown while reading is paused: goaway reaches the client, and every call gets its answer or UNAVAILABLE")
    func shutdownWhilePaused() throws {
        let connection = try ServedChannel()
        // The client pipelines calls, then stops reading: the server stops reading too, with frames
        // received but not served.
        try connection.send(Self.request(1))
        connection.setWritable(false)
        var batch: [UInt8] = []
        for id: UInt64 in 2...200 { batch += framed(Self.request(id, id % 2 == 0 ? "Echo" : "Hold", text: "h\(id)")) }
        try connection.writeInbound(batch)
        connection.quiesce()
        // The client reads again: everything it sent is answered, after or before the goaway.
        connection.setWritable(true)
        let frames = try connection.readFrames()
        #expect(frames.filter { $0["type"]?.stringValue == "goaway" }.count == 1)
        let responses = frames.filter { $0["type"]?.stringValue == "response" }
        #expect(responses.compactMap(\.frameID).sorted() == Array(1...200))
        #expect(responses.allSatisfy { ["OK", "UNAVAILABLE"].contains($0.statusCode) })
        // Calls that arrived after the goaway did not run.
        #expect(connection.service.holds.heldCount == 0)
        // With nothing in flight, the connection closes after the linger.
        connection.advanceTime(by: .seconds(2))
        #expect(!connection.isActive)
    }

    @Test("the grace period is enforced even for a client that reads nothing: calls are answered UNAVAILABLE and the connection closes")
    func graceEnforcedForSlowReader() async throws {
        let connection = try ServedChannel { $0.gracePeriod = .seconds(10) }
        try connection.send(Self.request(1, "Hold", text: "held"))
        connection.setWritable(false)
        connection.quiesce()
        connection.advanceTime(by: .seconds(9))
        #expect(connection.isActive, "closed before the grace period ended")
        connection.advanceTime(by: .seconds(2))
        #expect(!connection.isActive, "still open after the grace period")
        let frames = try connection.readFrames()
        #expect(frames.first { $0.frameID == 1 }?.statusCode == "UNAVAILABLE")
        #expect(await connection.service.holds.nextStop() == "held")
    }

    @Test("a malformed ping or cancel carrying a call's id gets no answer: the call gets exactly one")
    func malformedPingAndCancel() throws {
        let connection = try ServedChannel()
        try connection.send(Self.request(5, "Hold", text: "five"))
        try connection.send(#"{"type":"ping","id":5,"extra":1}"#)
        try connection.send(#"{"type":"cancel","id":5,"extra":1}"#)
        try connection.send(#"{"type":"ping","id":6}"#)
        let before = try connection.readFrames()
        #expect(before.map { $0["type"]?.stringValue } == ["pong"])
        #expect(before.first?.frameID == 6)
        connection.service.holds.release("five")
        connection.channel.embeddedEventLoop.run()
        let after = try connection.readFrames()
        #expect(after.map(\.frameID) == [5])
        #expect(after.first?.statusCode == "OK")
    }

    @Test("after an idle goaway the connection stays open for the linger: a request that crosses the goaway is answered UNAVAILABLE")
    func idleGoawayLinger() throws {
        let connection = try ServedChannel {
            $0.idleTimeout = .seconds(5)
            $0.closeLinger = .seconds(1)
        }
        connection.advanceTime(by: .seconds(5))
        #expect(try connection.readFrames().map { $0["type"]?.stringValue } == ["goaway"])
        connection.advanceTime(by: .milliseconds(500))
        try connection.send(Self.request(9))
        let answer = try connection.readFrames()
        #expect(answer.first?.frameID == 9)
        #expect(answer.first?.statusCode == "UNAVAILABLE")
        #expect(connection.isActive)
        // The linger counts from the last thing the client sent.
        connection.advanceTime(by: .milliseconds(600))
        #expect(connection.isActive, "closed less than a linger after the client's last request")
        connection.advanceTime(by: .milliseconds(500))
        #expect(!connection.isActive, "still open after a quiet linger")
    }

    @Test("a cancel for a call in flight answers it CANCELLED and stops its work; a cancel for an unknown id is ignored")
    func cancel() async throws {
        let connection = try ServedChannel()
        try connection.send(Self.request(3, "Hold", text: "three"))
        try connection.send(#"{"type":"cancel","id":99}"#)
        try connection.send(#"{"type":"cancel","id":3}"#)
        let frames = try connection.readFrames()
        #expect(frames.map(\.frameID) == [3])
        #expect(frames.first?.statusCode == "CANCELLED")
        #expect(await connection.service.holds.nextStop() == "three")
        // The late answer of the stopped work is dropped.
        connection.service.holds.release("three")
        connection.channel.embeddedEventLoop.run()
        #expect(try connection.readFrames().isEmpty)
    }

    @Test("calls in flight end at their own deadlines, earliest first, on the connection's clock")
    func deadlines() throws {
        let connection = try ServedChannel()
        try connection.send(Self.request(1, "Hold", text: "a", extra: #","timeout_ms":3000"#))
        try connection.send(Self.request(2, "Hold", text: "b", extra: #","timeout_ms":1000"#))
        try connection.send(Self.request(3, "Hold", text: "c", extra: #","timeout_ms":2000"#))
        var order: [UInt64] = []
        for _ in 0..<3 {
            connection.advanceTime(by: .milliseconds(1000))
            order += try connection.readFrames().compactMap { $0.statusCode == "DEADLINE_EXCEEDED" ? $0.frameID : nil }
        }
        #expect(order == [2, 3, 1])
    }

    @Test("a client that closes its side still gets the answers to what it sent, then the connection closes")
    func halfClosedClient() throws {
        let connection = try ServedChannel()
        try connection.send(Self.request(1, "Hold", text: "late"))
        try connection.send(Self.request(2))
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(connection.isActive)
        connection.service.holds.release("late")
        connection.channel.embeddedEventLoop.run()
        #expect(try connection.readFrames().compactMap(\.frameID).sorted() == [1, 2])
        #expect(!connection.isActive)
    }
}

extension JSONObject {
    var statusCode: String? { self["status"]?.objectValue?["code"]?.stringValue }
    var frameID: UInt64? { self["id"]?.uint64Value }
}
