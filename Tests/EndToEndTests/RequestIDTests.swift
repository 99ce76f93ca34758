import Foundation
import StrictJSON
import Testing
import UserRPCTestKit

@testable import UserRPCServer

/// Request ids and trace context: every call answered has an `x-request-id` in its response
/// metadata, the client's when usable, and the call's log lines carry it.
@Suite("Request ids")
struct RequestIDTests {
    static let unknownUser = "01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"

    static func getUser(id: Int, metadata: String) -> String {
        #"{"type":"request","id":\#(id),"method":"user.v1.UserService/GetUser","metadata":\#(metadata),"payload":{"id":"\#(unknownUser)"}}"#
    }

    @Test("the client's x-request-id comes back on OK and failed answers; without a usable one the server makes one, different each call")
    func echoedOrGenerated() async throws {
        let logs = CapturedLogs()
        var logger = logs.logger()
        logger.logLevel = .info
        try await TestServer.start(logger: logger).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(
                #"{"type":"request","id":1,"method":"user.v1.UserService/SearchUsers","metadata":{"x-request-id":"ok-1"},"payload":{}}"#)
            let ok = try await connection.expectFrame()
            #expect(ok.statusCode == "OK")
            #expect(ok["metadata"]?.objectValue?["x-request-id"] == "ok-1")

            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            try await connection.send(Self.getUser(id: 2, metadata: #"{"x-request-id":"missing-1","traceparent":"\#(traceparent)"}"#))
            let missing = try await connection.expectFrame()
            #expect(missing.statusCode == "NOT_FOUND")
            #expect(missing["metadata"]?.objectValue?["x-request-id"] == "missing-1")
            let line = logs.all.first { $0.contains("call failed") && $0.contains("missing-1") }
            #expect(line?.contains(traceparent) == true, "the failure's log line carries the request id and traceparent: \(logs.all)")

            var generated: [String] = []
            for (id, metadata) in [
                (3, "{}"), (4, #"{"x-request-id":"has space"}"#), (5, #"{"x-request-id":"\#(String(repeating: "x", count: 129))"}"#),
            ] {
                try await connection.send(Self.getUser(id: id, metadata: metadata))
                let answer = try await connection.expectFrame()
                let requestID = try #require(answer["metadata"]?.objectValue?["x-request-id"]?.stringValue)
                #expect(RequestIDInterceptor.isUsable(requestID), "\(requestID)")
                generated.append(requestID)
            }
            #expect(Set(generated).count == 3, "\(generated)")
            #expect(!generated.contains("has space"))
            await connection.close()
        }
    }

    @Test("a call refused for want of a token still has its request id")
    func refusedCallsHaveIDs() async throws {
        try await TestServer.start { $0.authTokens = ["s3cret"] }.scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(Self.getUser(id: 1, metadata: #"{"x-request-id":"anon-1"}"#))
            let refused = try await connection.expectFrame()
            #expect(refused.statusCode == "UNAUTHENTICATED")
            #expect(refused["metadata"]?.objectValue?["x-request-id"] == "anon-1")
            await connection.close()
        }
    }
}
