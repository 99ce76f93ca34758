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
            id: "0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f6\(index)", username: "user\(index)", email: "user\(index)@example.com",
            createdAt: "2026-11-27T10:15:0\(index).123Z")
    }

    /// A response frame (length prefix and body) as the server writes it.
    private static func responseFrame(id: UInt64, status: RPCStatus = .ok, payload: String?) -> [UInt8] {
        var writer = JSONWriter()
        ServerFrame.encodeResponse(id: id, status: status, payload: payload.map { Array($0.utf8) }, into: &writer)
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// The id of a group's first call: groups take their ids from 2^62 up.
    private static let firstID: UInt64 = 1 << 62

    /// Starts a group of `count` User calls (ids `firstID...`) on a handler in an embedded channel,
    /// feeds it `inbound` in `chunks`, and returns the group's answers.
    private static func answers(count: Int, inbound chunks: [[UInt8]]) async throws -> (
        answers: [UserRPCClient.PipelinedAnswer<UserV1.User>], channel: EmbeddedChannel
    ) {
        let channel = EmbeddedChannel()
        let handler = ClientChannelHandler(allocator: channel.allocator, maxFrameBytes: 1 << 20, onRetire: {})
        try channel.pipeline.syncOperations.addHandler(handler)
        let answers = await withUnsafeContinuation { (continuation: UnsafeContinuation<[UserRPCClient.PipelinedAnswer<UserV1.User>], Never>) in
            let group = CallGroupReference.make(count: count, decoding: ResponseDecoding<UserV1.User>.user, continuation: continuation)
            handler.start(count: count, timeout: nil, group: group) { _, _, _ in }
            for chunk in chunks {
                do {
                    try channel.writeInbound(ByteBuffer(bytes: chunk))
                } catch {
                    Issue.record("writeInbound: \(error)")
                }
            }
            // Calls the input did not answer end as UNAVAILABLE with the connection, so a wrong
            // answer fails the test instead of hanging it.
            channel.pipeline.fireChannelInactive()
        }
        return (answers, channel)
    }

    @Test("answers split at every byte, or all in one read, reach their own calls")
    func splitAndMerged() async throws {
        // Answered out of order, as a server may.
        let frames = [2, 0, 1].map { index in
            Self.responseFrame(id: Self.firstID + UInt64(index), payload: String(decoding: Self.users[index].jsonBytes, as: UTF8.self))
        }
        let stream = frames.flatMap { $0 }
        for chunks in [stream.map { [$0] }, [stream], [Array(stream[..<7]), Array(stream[7...])]] {
            let (answers, _) = try await Self.answers(count: 3, inbound: chunks)
            #expect(answers.map { try? $0.result.get() } == Self.users)
        }
    }

    @Test("a User in another spelling is read the general way, to the same value; a wrong one is INTERNAL, an error status its own code")
    func generalPath() async throws {
        let user = Self.users[0]
        let respelled = #"{ "created_at" : "\#(user.createdAt)", "email":"\#(user.email)", "username":"user\u0030", "id":"\#(user.id)" }"#
        let frames = [
            Self.responseFrame(id: Self.firstID, payload: respelled),
            Self.responseFrame(id: Self.firstID + 1, payload: #"{"id":"x","username":"y","email":"z"}"#),
            Self.responseFrame(id: Self.firstID + 2, status: RPCStatus(code: .notFound, message: "no such user"), payload: nil),
        ]
        let (answers, _) = try await Self.answers(count: 3, inbound: [frames.flatMap { $0 }])
        #expect(try answers[0].result.get() == user)
        #expect(answers[1].error?.code == .internal)
        #expect(answers[1].error?.message.contains("created_at") == true)
        #expect(answers[2].error == UserRPCError(code: .notFound, message: "no such user"))
    }

    @Test("a malformed payload in an OK answer fails every call in flight and closes the connection")
    func malformedPayload() async throws {
        let frame = Self.responseFrame(id: Self.firstID + 1, payload: #"{"id":"x",}"#)
        let (answers, channel) = try await Self.answers(count: 3, inbound: [frame])
        #expect(answers.map { $0.error?.code } == [.internal, .internal, .internal])
        #expect(!channel.isActive)
    }

    @Test("the plain-shape User reader agrees with the general decoder on 20,000 generated payloads")
    func plainUserDifferential() throws {
        var generator = SeededGenerator(seed: 5)
        let seeds = Self.users.map(\.jsonBytes) + [Array(#" {"email":"e","id":"i","created_at":"c","username":"u"} "#.utf8)]
        var accepted = 0
        for round in 0..<20_000 {
            let seed = seeds[round % seeds.count]
            let payload = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            guard let fast = payload.withUnsafeBytes({ UserV1.User(plainPayload: $0) }) else { continue }
            accepted += 1
            let shown = String(decoding: payload, as: UTF8.self)
            guard case .object(let object)? = try? JSONParser().parse(payload) else {
                Issue.record("read \(shown), which is not a JSON object")
                continue
            }
            #expect((try? UserV1.User(json: object)) == fast, "\(shown)")
        }
        #expect(accepted > 2_000)
        for user in Self.users {
            #expect(user.jsonBytes.withUnsafeBytes { UserV1.User(plainPayload: $0) } == user)
        }
    }
}
