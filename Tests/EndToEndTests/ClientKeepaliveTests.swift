import Foundation
import NIOCore
import NIOEmbedded
import Testing
import UserRPCWire
import UserV1

@testable import UserRPCClient

/// Keepalive pings on an embedded channel with a manual clock: a server that goes silent while
/// calls wait is noticed after the interval plus the timeout, not at the calls' deadlines.
@Suite("Client keepalive")
struct ClientKeepaliveTests {
    final class AnswerBox: @unchecked Sendable {
        var answers: [UserRPCClient.PipelinedAnswer<UserV1.User>]?
    }

    private static func handler(keepalive: UserRPCClient.Keepalive?) throws -> (ClientChannelHandler, EmbeddedChannel) {
        let channel = EmbeddedChannel()
        let handler = ClientChannelHandler(allocator: channel.allocator, maxFrameBytes: 1 << 20, keepalive: keepalive, onRetire: { _ in })
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (handler, channel)
    }

    private static func startCall(on handler: ClientChannelHandler, id: UInt64) -> AnswerBox {
        let box = AnswerBox()
        let group = CallGroup(count: 1, decoding: .message(UserV1.User.self)) { box.answers = $0 }
        handler.start(firstID: id, count: 1, timeout: .seconds(3600), group: group) { _ in }
        return box
    }

    /// The `(type, id)` of every frame written since the last look.
    private static func written(_ channel: EmbeddedChannel) throws -> [(String, UInt64)] {
        var frames: [(String, UInt64)] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while let length = buffer.readInteger(as: UInt32.self), let body = buffer.readBytes(length: Int(length)) {
                let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                frames.append((object?["type"] as? String ?? "?", (object?["id"] as? NSNumber)?.uint64Value ?? 0))
            }
        }
        return frames
    }

    private static func pong(_ id: UInt64) -> ByteBuffer {
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(Array(#"{"type":"pong","id":\#(id)}"#.utf8), into: &buffer)
        return buffer
    }

    @Test("with a call waiting and nothing received, a ping after the interval; no answer within the timeout fails the call UNAVAILABLE")
    func silentServer() throws {
        let (handler, channel) = try Self.handler(keepalive: .init(interval: .seconds(30), timeout: .seconds(10)))
        let call = Self.startCall(on: handler, id: 1)
        _ = try Self.written(channel)  // (the test writes no request bytes for its call)
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(try Self.written(channel).isEmpty, "pinged before the interval")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let ping = try Self.written(channel)
        #expect(ping.map(\.0) == ["ping"] && ping.map(\.1) == [UInt64.max])
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(call.answers == nil, "gave up before the timeout")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let error = call.answers?.first?.error
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("keepalive") == true, "\(error?.message ?? "")")
        #expect(!channel.isActive, "the connection is dropped")
    }

    @Test("an answer to the ping keeps the connection; the next ping comes an interval after the last bytes")
    func answeredPing() throws {
        let (handler, channel) = try Self.handler(keepalive: .init(interval: .seconds(30), timeout: .seconds(10)))
        let call = Self.startCall(on: handler, id: 1)
        _ = try Self.written(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(try Self.written(channel).map(\.0) == ["ping"])
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try channel.writeInbound(Self.pong(UInt64.max))
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        #expect(call.answers == nil && channel.isActive)
        #expect(try Self.written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))  // 30 s after the pong
        #expect(try Self.written(channel).map(\.0) == ["ping"])
        #expect(call.answers == nil)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test("no ping while no call waits, and none when keepalive is off")
    func noPings() throws {
        let (_, idle) = try Self.handler(keepalive: .init())
        idle.embeddedEventLoop.advanceTime(by: .seconds(600))
        #expect(try Self.written(idle).isEmpty)
        _ = try idle.finish(acceptAlreadyClosed: true)

        let (handler, off) = try Self.handler(keepalive: nil)
        let call = Self.startCall(on: handler, id: 1)
        _ = try Self.written(off)
        off.embeddedEventLoop.advanceTime(by: .seconds(600))
        #expect(try Self.written(off).isEmpty)
        #expect(call.answers == nil)
        _ = try off.finish(acceptAlreadyClosed: true)
    }
}
