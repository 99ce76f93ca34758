import Foundation
import NIOCore
import NIOEmbedded
import Testing
import UserRPCWire
import UserV1

@testable import UserRPCClient

/// The client's deadline timer, on an embedded channel whose clock only moves when the test moves
/// it: calls end at their own deadlines, earliest first, whatever order they were sent in.
@Suite("Client deadline timer")
struct ClientDeadlineTimerTests {
    /// Collects a group's answers when the handler hands them over.
    final class AnswerBox: @unchecked Sendable {
        var answers: [UserRPCClient.PipelinedAnswer<UserV1.User>]?
        var codes: [UserRPCError.Code?]? { answers?.map { $0.error?.code } }
    }

    private static func start(
        on handler: ClientChannelHandler, firstID: UInt64, count: Int = 1, timeout: Duration
    ) -> AnswerBox {
        let box = AnswerBox()
        let group = CallGroup(count: count, decoding: .message(UserV1.User.self)) { box.answers = $0 }
        handler.start(firstID: firstID, count: count, timeout: timeout, group: group) { _ in }
        return box
    }

    /// The ids of the cancel frames the handler has written so far.
    private static func cancelledIDs(in channel: EmbeddedChannel) throws -> [UInt64] {
        var ids: [UInt64] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while let length = buffer.readInteger(as: UInt32.self), let body = buffer.readBytes(length: Int(length)) {
                let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                if object?["type"] as? String == "cancel", let id = object?["id"] as? NSNumber { ids.append(id.uint64Value) }
            }
        }
        return ids
    }

    @Test("a later call with an earlier deadline moves the timer: each call ends at its own deadline, and the server is told")
    func earliestFirst() throws {
        let channel = EmbeddedChannel()
        let handler = ClientChannelHandler(allocator: channel.allocator, maxFrameBytes: 1 << 20, onRetire: { _ in })
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()

        let long = Self.start(on: handler, firstID: 1, timeout: .seconds(4))
        let short = Self.start(on: handler, firstID: 2, count: 2, timeout: .milliseconds(50))
        _ = try Self.cancelledIDs(in: channel)  // the request frames

        channel.embeddedEventLoop.advanceTime(by: .milliseconds(49))
        #expect(short.answers == nil, "ended before its deadline")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(short.codes == [.deadlineExceeded, .deadlineExceeded], "the 50 ms calls did not end at 50 ms")
        #expect(long.answers == nil, "the 4 s call ended with the 50 ms ones")
        #expect(try Self.cancelledIDs(in: channel) == [2, 3])

        channel.embeddedEventLoop.advanceTime(by: .milliseconds(3_949))
        #expect(long.answers == nil, "ended before its deadline")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(long.codes == [.deadlineExceeded])
        #expect(try Self.cancelledIDs(in: channel) == [1])
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
