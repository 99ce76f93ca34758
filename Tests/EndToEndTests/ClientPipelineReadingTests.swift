import Foundation
import NIOCore
import NIOEmbedded
import SeededMutation
import StrictJSON
import Testing
import UserRPCWire
import UserV1

@testable import UserRPCClient

/// How the client's connection handler reads the answers of pipelined calls: frames split or merged
/// by the network, `User` payloads read straight from their bytes, and everything else the general way.
@Suite("Client pipeline reading")
struct ClientPipelineReadingTests {
    private static let users = (0..<3).map { index in
        UserV1.User(
            id: UUID(uuidString: "0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f6\(index)")!, username: "user\(index)", email: "user\(index)@example.com",
            createdAt: RFC3339.parse("2026-11-27T10:15:0\(index).123Z")!)
    }

    /// A response frame (length prefix and body) as the server writes it.
    private static func responseFrame(id: UInt64, status: RPCStatus = .ok, payload: String?) -> [UInt8] {
        var writer = JSONWriter()
        ServerFrame.encodeResponse(id: id, status: status, payload: payload.map { Array($0.utf8) }, into: &writer)
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// The id of the first call of the group under test.
    private static let firstID: UInt64 = 1_000

    typealias Answers = [UserRPCClient.PipelinedAnswer<UserV1.User>]

    /// Collects a group's answers when the handler hands them over.
    final class AnswerBox: @unchecked Sendable {
        var answers: Answers?
    }

    /// A handler on an embedded channel.
    private static func makeHandler() throws -> (ClientChannelHandler, EmbeddedChannel) {
        let channel = EmbeddedChannel()
        let handler = ClientChannelHandler(allocator: channel.allocator, maxFrameBytes: 1 << 20, onRetire: { _ in })
        try channel.pipeline.syncOperations.addHandler(handler)
        return (handler, channel)
    }

    /// Starts a group of `count` User calls with ids `firstID...` on `handler`; the box gets the answers.
    private static func startGroup(on handler: ClientChannelHandler, firstID: UInt64, count: Int) -> AnswerBox {
        let box = AnswerBox()
        let group = CallGroup(count: count, decoding: .message(UserV1.User.self)) { box.answers = $0 }
        handler.start(firstID: firstID, count: count, timeout: nil, group: group) { _ in }
        return box
    }

    /// Feeds `chunks` to the channel, then ends the connection: calls the input did not answer end as
    /// UNAVAILABLE, so a misrouted answer fails the test rather than leaving it waiting.
    private static func feed(_ chunks: [[UInt8]], to channel: EmbeddedChannel) {
        for chunk in chunks {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                Issue.record("writeInbound: \(error)")
            }
        }
        channel.pipeline.fireChannelInactive()
    }

    /// Starts a group of `count` User calls (ids `firstID...`) on a handler in an embedded channel,
    /// feeds it `inbound` in `chunks`, and returns the group's answers.
    private static func answers(count: Int, inbound chunks: [[UInt8]]) throws -> (answers: Answers, channel: EmbeddedChannel) {
        let (handler, channel) = try makeHandler()
        let box = startGroup(on: handler, firstID: firstID, count: count)
        feed(chunks, to: channel)
        return (try #require(box.answers), channel)
    }

    @Test("groups registered out of id order (a caller overtaken on its way to the event loop) each get their own answers")
    func groupsOutOfOrder() throws {
        let (handler, channel) = try Self.makeHandler()
        let later = Self.startGroup(on: handler, firstID: 20, count: 2)
        let earlier = Self.startGroup(on: handler, firstID: 10, count: 2)
        let last = Self.startGroup(on: handler, firstID: 30, count: 1)
        let frames = [(30, 2), (11, 1), (21, 0), (10, 0), (20, 1)].map { id, user in
            Self.responseFrame(id: UInt64(id), payload: String(decoding: Self.users[user].jsonBytes, as: UTF8.self))
        }
        Self.feed([frames.flatMap { $0 }], to: channel)
        #expect(earlier.answers?.map { try? $0.result.get() } == [Self.users[0], Self.users[1]])
        #expect(later.answers?.map { try? $0.result.get() } == [Self.users[1], Self.users[0]])
        #expect(last.answers?.map { try? $0.result.get() } == [Self.users[2]])
    }

    @Test("answers split at every byte, or all in one read, reach their own calls")
    func splitAndMerged() throws {
        // Answered out of order, as a server may.
        let frames = [2, 0, 1].map { index in
            Self.responseFrame(id: Self.firstID + UInt64(index), payload: String(decoding: Self.users[index].jsonBytes, as: UTF8.self))
        }
        let stream = frames.flatMap { $0 }
        for chunks in [stream.map { [$0] }, [stream], [Array(stream[..<7]), Array(stream[7...])]] {
            let (answers, _) = try Self.answers(count: 3, inbound: chunks)
            #expect(answers.map { try? $0.result.get() } == Self.users)
        }
    }

    @Test("a User in another spelling is read the general way, to the same value; a wrong one is INTERNAL, an error status its own code")
    func generalPath() throws {
        let user = Self.users[0]
        let respelled =
            #"{ "created_at" : "\#(RFC3339.format(user.createdAt))", "email":"\#(user.email)", "username":"user\u0030", "id":"\#(user.id.lowercasedText)" }"#
        let frames = [
            Self.responseFrame(id: Self.firstID, payload: respelled),
            Self.responseFrame(id: Self.firstID + 1, payload: #"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","username":"y","email":"z"}"#),
            Self.responseFrame(id: Self.firstID + 2, status: RPCStatus(code: .notFound, message: "no such user"), payload: nil),
        ]
        let (answers, _) = try Self.answers(count: 3, inbound: [frames.flatMap { $0 }])
        #expect(try answers[0].result.get() == user)
        #expect(answers[1].error?.code == .internal)
        #expect(answers[1].error?.message.contains("created_at") == true)
        #expect(answers[2].error == UserRPCError(code: .notFound, message: "no such user"))
    }

    @Test("a malformed payload in an OK answer fails every call in flight and closes the connection")
    func malformedPayload() throws {
        let frame = Self.responseFrame(id: Self.firstID + 1, payload: #"{"id":"x",}"#)
        let (answers, channel) = try Self.answers(count: 3, inbound: [frame])
        #expect(answers.map { $0.error?.code } == [.internal, .internal, .internal])
        #expect(!channel.isActive)
    }

    @Test("the plain reader and the JSON reader of User agree on 20,000 generated payloads, newer fields included")
    func plainUserDifferential() throws {
        var generator = SeededGenerator(seed: 5)
        let seeds =
            Self.users.map(\.jsonBytes) + [
                Array(
                    #" {"email":"e","id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","created_at":"2026-11-27T10:15:00.123Z","username":"u","added":7} "#
                        .utf8)
            ]
        var accepted = 0
        for round in 0..<20_000 {
            let seed = seeds[round % seeds.count]
            let payload = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            let decoding = ResponseDecoding<UserV1.User>.message(UserV1.User.self)
            guard let fast = payload.withUnsafeBytes({ decoding.scan($0) }) else { continue }
            accepted += 1
            let shown = String(decoding: payload, as: UTF8.self)
            guard case .object(let object)? = try? JSONParser().parse(payload) else {
                Issue.record("read \(shown), which is not a JSON object")
                continue
            }
            #expect((try? decoding.decode(object)) == fast, "\(shown)")
        }
        #expect(accepted > 2_000)
        for user in Self.users {
            #expect(user.jsonBytes.withUnsafeBytes { ResponseDecoding<UserV1.User>.message(UserV1.User.self).scan($0) } == user)
        }
    }
}
