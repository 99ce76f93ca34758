import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import StrictJSON
import Testing
import UserRPCServer
import UserRPCWire

/// One server connection on a `NIOAsyncTestingChannel`: the real connection handler, a manual clock
/// (`advanceTime(by:)`), and a thread-safe loop, since a stream's producer writes from its own task.
final class StreamingChannel: Sendable {
    let channel = NIOAsyncTestingChannel()
    let server: UserRPCServer
    let service = StreamTestService()
    private let received = NIOLockedValueBox(ByteBuffer())

    init(configure: (inout UserRPCServerConfiguration) -> Void = { _ in }) async throws {
        var configuration = UserRPCServerConfiguration()
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try UserRPCServer(
            configuration: configuration, services: [service], logger: logger, eventLoopGroup: channel.testingEventLoop)
        self.server = server
        try await channel.testingEventLoop.executeInContext { [channel] in try server.serve(channel) }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
    }

    func send(_ json: String) async throws {
        try await channel.writeInbound(ByteBuffer(bytes: framed(json)))
    }

    func advanceTime(by amount: TimeAmount) async {
        await channel.testingEventLoop.advanceTime(by: amount)
    }

    /// The next frame the server writes, waiting for it.
    func nextFrame() async throws -> JSONObject {
        while true {
            if let frame = try takeFrame() { return frame }
            var chunk = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            received.withLockedValue { _ = $0.writeBuffer(&chunk) }
        }
    }

    /// Every whole frame the server has written so far, without waiting.
    func framesSoFar() async throws -> [JSONObject] {
        while let chunk = try await channel.readOutbound(as: ByteBuffer.self) {
            var chunk = chunk
            received.withLockedValue { _ = $0.writeBuffer(&chunk) }
        }
        var frames: [JSONObject] = []
        while let frame = try takeFrame() { frames.append(frame) }
        return frames
    }

    private func takeFrame() throws -> JSONObject? {
        let body: [UInt8]? = received.withLockedValue { received in
            guard let length = received.getInteger(at: received.readerIndex, as: UInt32.self),
                received.readableBytes >= 4 + Int(length)
            else { return nil }
            received.moveReaderIndex(forwardBy: 4)
            return received.readBytes(length: Int(length))
        }
        guard let body else { return nil }
        return try JSONParser().parse(body).objectValue
    }
}

extension JSONObject {
    var type: String? { self["type"]?.stringValue }
    var callID: UInt64? { self["id"]?.uint64Value }
    var code: String? { self["status"]?.objectValue?["code"]?.stringValue }
    var text: String? { self["payload"]?.objectValue?["text"]?.stringValue }
}

/// The server side of streams, on a manual clock: credit, the end of a stream, cancel, deadline,
/// goaway and its grace period, a stream that is not read beside unary calls, and the idle timer.
@Suite("Server streams on one connection", .timeLimit(.minutes(5)))
struct StreamingConnectionTests {
    @Test("the server sends no more messages than the client granted: the request's window, then each credit; then the final OK")
    func credits() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Count","window":2,"payload":{"text":"5"}}"#)
        var texts: [String] = []
        for _ in 0..<2 { texts.append(try await connection.nextFrame().text ?? "?") }
        #expect(texts == ["0", "1"])
        // A unary call is answered while the stream waits for credit; nothing more of the stream came.
        try await connection.send(#"{"type":"request","id":2,"method":"test.v1.Streams/Echo","payload":{"text":"hi"}}"#)
        let echo = try await connection.nextFrame()
        #expect(echo.type == "response" && echo.callID == 2 && echo.text == "hi")
        try await connection.send(#"{"type":"credit","id":1,"add":2}"#)
        for _ in 0..<2 { texts.append(try await connection.nextFrame().text ?? "?") }
        try await connection.send(#"{"type":"credit","id":1,"add":100}"#)
        let last = try await connection.nextFrame()
        texts.append(last.text ?? "?")
        #expect(texts == ["0", "1", "2", "3", "4"])
        let end = try await connection.nextFrame()
        #expect(end.type == "response" && end.callID == 1 && end.code == "OK")
        #expect(end["payload"]?.objectValue?.isEmpty == true, "an OK response always has a payload: the stream's end has an empty one")
    }

    @Test("messages come as `message` frames with the call's id and the response message as payload")
    func messageFrames() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"request","id":7,"method":"test.v1.Streams/Count","payload":{"text":"1"}}"#)
        let message = try await connection.nextFrame()
        #expect(message.type == "message" && message.callID == 7 && message.text == "0")
        #expect(Set(message.keys) == ["type", "id", "payload"])
        #expect(try await connection.nextFrame().code == "OK")
    }

    @Test("a cancel ends the stream CANCELLED, and its producer's next write fails")
    func cancel() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":1,"payload":{"text":""}}"#)
        #expect(try await connection.nextFrame().type == "message")
        try await connection.send(#"{"type":"cancel","id":1}"#)
        let end = try await connection.nextFrame()
        #expect(end.callID == 1 && end.code == "CANCELLED")
        await connection.service.progress.wait { _, ended in ended != nil }
        #expect(connection.service.progress.ended?.code == .cancelled)
        #expect(connection.service.progress.written == 1)
    }

    @Test("a stream's deadline is its timeout_ms: DEADLINE_EXCEEDED then, not the unary default before")
    func deadline() async throws {
        let connection = try await StreamingChannel {
            $0.defaultTimeout = .seconds(30)
            $0.maxTimeout = .seconds(60)
        }
        try await connection.send(
            #"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":0,"timeout_ms":90000,"payload":{"text":""}}"#)
        try await connection.send(#"{"type":"request","id":2,"method":"test.v1.Streams/Endless","window":0,"payload":{"text":""}}"#)
        // Past the unary default and maximum: both streams still run.
        await connection.advanceTime(by: .seconds(89))
        #expect(try await connection.framesSoFar().isEmpty)
        await connection.advanceTime(by: .seconds(1))
        let end = try await connection.nextFrame()
        #expect(end.callID == 1 && end.code == "DEADLINE_EXCEEDED")
        // The stream without a timeout has no deadline at all (ten times the unary maximum later).
        await connection.advanceTime(by: .seconds(3600))
        #expect(try await connection.framesSoFar().isEmpty)
    }

    @Test("an open stream keeps its connection from the idle timeout, however long it sends nothing")
    func notIdle() async throws {
        let connection = try await StreamingChannel { $0.idleTimeout = .seconds(300) }
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":0,"payload":{"text":""}}"#)
        // An hour with nothing sent either way: no timer polls the connection meanwhile.
        await connection.advanceTime(by: .seconds(3600))
        #expect(try await connection.framesSoFar().isEmpty, "no goaway")
        try await connection.send(#"{"type":"cancel","id":1}"#)
        #expect(try await connection.nextFrame().code == "CANCELLED")
        // With nothing in flight, the idle timer runs again.
        await connection.advanceTime(by: .seconds(301))
        #expect(try await connection.nextFrame().type == "goaway")
    }

    @Test("after goaway a stream runs on, then the end of the grace period ends it UNAVAILABLE, with the details its handler set to resume")
    func goaway() async throws {
        let connection = try await StreamingChannel { $0.gracePeriod = .seconds(10) }
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":1,"payload":{"text":""}}"#)
        #expect(try await connection.nextFrame().text == "0")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        await connection.channel.testingEventLoop.run()
        #expect(try await connection.nextFrame().type == "goaway")
        // Still streaming: credit brings the next message.
        try await connection.send(#"{"type":"credit","id":1,"add":1}"#)
        #expect(try await connection.nextFrame().text == "1")
        await connection.advanceTime(by: .seconds(10))
        let end = try await connection.nextFrame()
        #expect(end.callID == 1 && end.code == "UNAVAILABLE")
        #expect(end["status"]?.objectValue?["details"]?.objectValue?["resume_after"]?.stringValue == "1")
    }

    @Test("a stream its client does not read holds one message and its producer; unary calls and other streams go on")
    func unreadStream() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":1,"payload":{"text":""}}"#)
        #expect(try await connection.nextFrame().text == "0")
        // The producer's second write waits for credit that never comes.
        for id in 2..<12 {
            try await connection.send(#"{"type":"request","id":\#(id),"method":"test.v1.Streams/Echo","payload":{"text":"\#(id)"}}"#)
            let answer = try await connection.nextFrame()
            #expect(answer.callID == UInt64(id) && answer.text == "\(id)")
        }
        try await connection.send(#"{"type":"request","id":20,"method":"test.v1.Streams/Count","payload":{"text":"3"}}"#)
        var other: [String] = []
        for _ in 0..<3 { other.append(try await connection.nextFrame().text ?? "?") }
        #expect(other == ["0", "1", "2"])
        #expect(try await connection.nextFrame().code == "OK")
        #expect(connection.service.progress.written == 1, "the producer waits in its second write")
        // Credit releases exactly what it grants.
        try await connection.send(#"{"type":"credit","id":1,"add":3}"#)
        var texts: [String] = []
        for _ in 0..<3 { texts.append(try await connection.nextFrame().text ?? "?") }
        #expect(texts == ["1", "2", "3"])
        await connection.service.progress.wait { written, _ in written == 4 }
        #expect(try await connection.framesSoFar().isEmpty)
    }

    @Test("credit for a unary call or an unknown id is ignored; a malformed credit or window is refused as PROTOCOL says")
    func malformedCredit() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"credit","id":99,"add":5}"#)
        try await connection.send(#"{"type":"credit","id":1,"add":0}"#)
        try await connection.send(#"{"type":"credit","id":1,"add":5,"extra":true}"#)
        try await connection.send(#"{"type":"request","id":3,"method":"test.v1.Streams/Count","window":-1,"payload":{"text":"1"}}"#)
        let refused = try await connection.nextFrame()
        #expect(refused.callID == 3 && refused.code == "INVALID_ARGUMENT")
        #expect(refused["status"]?.objectValue?["message"]?.stringValue?.contains("window") == true)
        try await connection.send(#"{"type":"request","id":4,"method":"test.v1.Streams/Echo","window":5,"payload":{"text":"unary"}}"#)
        #expect(try await connection.nextFrame().text == "unary", "a window on a unary call is ignored")
        #expect(connection.channel.isActive)
    }

    @Test("a client that shuts its side ends its streams CANCELLED (it can no longer grant credit or cancel); a unary call is still answered")
    func halfClose() async throws {
        let connection = try await StreamingChannel()
        try await connection.send(#"{"type":"request","id":1,"method":"test.v1.Streams/Endless","window":0,"payload":{"text":""}}"#)
        try await connection.send(#"{"type":"request","id":2,"method":"test.v1.Streams/Echo","payload":{"text":"still"}}"#)
        #expect(try await connection.nextFrame().text == "still")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        await connection.channel.testingEventLoop.run()
        let end = try await connection.nextFrame()
        #expect(end.callID == 1 && end.code == "CANCELLED")
        await connection.service.progress.wait { _, ended in ended != nil }
        #expect(connection.service.progress.ended?.code == .cancelled)
    }
}
