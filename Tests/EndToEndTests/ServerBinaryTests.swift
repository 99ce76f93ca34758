import Foundation
import Testing
import UserRPCTestKit

/// Drives the real `user-rpc-server` binary: start-up on the embedded store, and SIGTERM.
@Suite("user-rpc-server binary")
struct ServerBinaryTests {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("user-rpc-server")
    }

    /// Reads the child's stderr line by line until the "listening" line, and returns the port.
    static func waitForPort(_ handle: FileHandle, log: inout String) throws -> Int {
        while true {
            let data = handle.availableData
            guard !data.isEmpty else { throw TimeoutError(seconds: 0) }
            log += String(decoding: data, as: UTF8.self)
            if let range = log.range(of: #"address=\[IPv4\]127\.0\.0\.1/127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let match = log[range]
                return Int(match[match.index(after: match.lastIndex(of: ":")!)...])!
            }
        }
    }

    @Test("starts on the durable embedded store, says so, and drains on SIGTERM")
    func sigterm() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-binary-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--port", "0", "--grace-period", "5s", "--data-dir", dataDirectory]
        // No storage configured: the embedded default.
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" && $0.key != "REDIS_URL" }
        let stderr = Pipe()
        process.standardError = stderr
        markDescriptorsCloseOnExec()
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var log = ""
        let handle = stderr.fileHandleForReading
        let port = try await withTimeout(seconds: 20) { [handle] in
            try await blocking {
                var log = ""
                let port = try Self.waitForPort(handle, log: &log)
                return (port, log)
            }
        }
        log = port.1
        #expect(log.contains("embedded, durable (SQLite in \(dataDirectory))"))
        #expect(log.contains("auth=none") && log.contains("tls=off"), "the start-up line says how it is secured")

        let connection = try await RawConnection.connect(port: port.0)
        try await connection.send(#"{"type":"ping","id":1}"#)
        #expect(try await connection.expectFrame()["type"] == .string("pong"))

        kill(process.processIdentifier, SIGTERM)
        #expect(try await connection.expectFrame()["type"] == .string("goaway"))
        #expect(try await connection.expectClosed())
        let status = try await withTimeout(seconds: 20) {
            try await blocking {
                process.waitUntilExit()
                return process.terminationStatus
            }
        }
        #expect(status == 0)
        let rest = try await blocking { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
        #expect(rest.contains("stopped"))
    }
}
