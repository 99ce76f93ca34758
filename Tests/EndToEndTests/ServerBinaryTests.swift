import Foundation
import StrictJSON
import Testing
import UserRPCTestKit

/// Drives the real `user-rpc-server` binary: start-up on the embedded store, and SIGTERM.
@Suite("user-rpc-server binary")
struct ServerBinaryTests {
    @Test("starts on the durable embedded store, says so, and drains on SIGTERM")
    func sigterm() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-binary-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        // No storage configured: the embedded default.
        let (server, port) = try await ServerProcess.start(["--port", "0", "--grace-period", "5s", "--data-dir", dataDirectory])
        defer { server.killIfRunning() }
        let log = server.log
        #expect(log.contains("embedded, durable (SQLite in \(dataDirectory))"))
        #expect(log.contains("auth=none") && log.contains("tls=off"), "the start-up line says how it is secured")

        let connection = try await RawConnection.connect(port: port)
        try await connection.send(#"{"type":"ping","id":1}"#)
        #expect(try await connection.expectFrame()["type"] == .string("pong"))

        server.signal(SIGTERM)
        #expect(try await connection.expectFrame()["type"] == .string("goaway"))
        #expect(try await connection.expectClosed())
        #expect(try await server.waitForExit() == 0)
        #expect(server.log.contains("stopped"))
    }

    @Test("--log-format json writes one JSON object per line; a call's lines carry its request id and traceparent")
    func jsonLogs() async throws {
        let (server, port) = try await ServerProcess.start(["--port", "0", "--in-memory", "--log-format", "json"])
        defer { server.killIfRunning() }
        let connection = try await RawConnection.connect(port: port)
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        try await connection.send(
            #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","metadata":{"x-request-id":"req-42","traceparent":"\#(traceparent)"},"payload":{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"}}"#
        )
        let answer = try await connection.expectFrame()
        #expect(answer.statusCode == "NOT_FOUND")
        #expect(answer["metadata"]?.objectValue?["x-request-id"] == "req-42")
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
        let lines = server.log.split(separator: "\n")
        #expect(lines.count >= 3, "\(server.log)")
        var failed: JSONObject?
        for line in lines {
            let object = try? JSONParser().parse(String(line)).objectValue
            #expect(object?["timestamp"]?.stringValue != nil && object?["level"] != nil && object?["message"] != nil, "not a JSON log line: \(line)")
            if object?["message"] == "call failed" { failed = object }
        }
        let metadata = failed?["metadata"]?.objectValue
        #expect(metadata?["request_id"] == "req-42", "\(server.log)")
        #expect(metadata?["traceparent"] == .string(traceparent))
        #expect(metadata?["code"] == "NOT_FOUND")
    }
}
