import Foundation
import NIOConcurrencyHelpers
import Testing
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserRPCWire

/// `flaky.v1.Flaky/Follow`: each call writes the request's `text` messages (numbered after the
/// request's cursor, "B" first as a bookmark), then fails UNAVAILABLE, counting its calls.
struct FlakyService: RPCService {
    struct Step: RPCMessage, Hashable {
        static let messageName = "Step"
        var cursor: String
        var count: Int
        init(cursor: String, count: Int) {
            self.cursor = cursor
            self.count = count
        }
        init(fields: inout some MessageFieldReader) {
            cursor = fields.required("cursor", as: String.self)
            count = fields.required("count", as: Int.self)
        }
        func write(fields: inout MessageFieldWriter) {
            fields.field("cursor", cursor)
            fields.field("count", count)
        }
    }

    static let follow = ServerStreamingMethodDescriptor<Step, Step>(service: "flaky.v1.Flaky", name: "Follow")
    let calls = NIOLockedValueBox<[String]>([])

    var schema: ServiceSchema {
        ServiceSchema(
            embedded: #"""
                {"package":"flaky.v1","service":"Flaky","methods":[
                  {"name":"Follow","full_name":"flaky.v1.Flaky/Follow","request":"Step","response":"Step","streaming":"server"}],
                 "messages":{"Step":{"type":"object","required":["cursor","count"],
                   "properties":{"cursor":{"type":"string"},"count":{"type":"integer"}}}}}
                """#)
    }

    func registerMethods(with router: inout RPCRouter) {
        let calls = self.calls
        router.registerServerStreaming(Self.follow) { request, _, writer throws(RPCError) in
            calls.withLockedValue { $0.append(request.cursor) }
            // The opening bookmark: where the call starts.
            try await writer.write(Step(cursor: request.cursor, count: 0))
            let start = Int(request.cursor) ?? 0
            for offset in 0..<request.count { try await writer.write(Step(cursor: String(start + offset + 1), count: 1)) }
            throw RPCError(code: .unavailable, message: "broken on purpose")
        }
    }
}

/// `UserRPCClient.ResumingStream` against a server whose streams break after each call's messages.
@Suite("Resuming streams", .timeLimit(.minutes(1)))
struct ResumingStreamTests {
    func stream(_ client: UserRPCClient, count: Int) -> UserRPCClient.ResumingStream<FlakyService.Step> {
        client.resumingStream(
            FlakyService.follow, FlakyService.Step(cursor: "0", count: count),
            resumingAfter: { request, cursor in FlakyService.Step(cursor: cursor ?? request.cursor, count: request.count) },
            cursor: { $0.cursor }, isBookmark: { $0.count == 0 })
    }

    @Test("a stream that breaks after each call's messages is resumed after the last one: the loop sees every message once")
    func resumesAfterTheLastMessage() async throws {
        let service = FlakyService()
        try await TestServer.start(extraServices: [service]).scoped { server in
            let client = server.client()
            var seen: [String] = []
            for try await step in stream(client, count: 2) {
                seen.append(step.cursor)
                if seen.count == 7 { break }
            }
            #expect(seen == ["1", "2", "3", "4", "5", "6", "7"])
            // Each call started after the last message the one before delivered.
            #expect(service.calls.withLockedValue { $0 } == ["0", "2", "4", "6"])
        }
    }

    @Test("a server that opens every call with its bookmark and then breaks is no progress: the loop throws after the configured attempts")
    func givesUpWithoutProgress() async throws {
        let service = FlakyService()
        try await TestServer.start(extraServices: [service]).scoped { server in
            var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            configuration.streamResumeAttempts = 2
            let logs = CapturedLogs()
            let client = UserRPCClient(configuration: configuration, logger: logs.logger())
            do throws(UserRPCError) {
                for try await step in stream(client, count: 0) { Issue.record("a bookmark reached the loop: \(step)") }
                Issue.record("the loop ended without an error")
            } catch {
                #expect(error.code == .unavailable)
            }
            // The first call, then two more: three breaks, the last one thrown.
            #expect(service.calls.withLockedValue { $0 } == ["0", "0", "0"])
            // The client's logger heard each resume, and the giving up, with the method.
            let lines = logs.all
            #expect(lines.filter { $0.hasPrefix("info stream broke: resuming") && $0.contains("flaky.v1.Flaky/Follow") }.count == 2, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("warning stream broke too often") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("debug connected") && $0.contains("127.0.0.1:\(server.port)") }, "\(lines)")
            await client.close()
        }
    }
}
