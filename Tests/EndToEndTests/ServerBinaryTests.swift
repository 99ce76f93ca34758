import Foundation
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
}
