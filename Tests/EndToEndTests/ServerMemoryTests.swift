import Foundation
import Testing
import UserRPCTestKit

/// Hostile load against the real server binary, measuring its resident memory from /proc.
@Suite("Server memory under hostile clients")
struct ServerMemoryTests {
    static func residentKilobytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    @Test("after large frames, a thousand connections and unread responses, memory returns near its baseline")
    func memoryReturnsNearBaseline() async throws {
        let process = Process()
        process.executableURL = ServerBinaryTests.binary
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" && $0.key != "REDIS_URL" }
        let stderr = Pipe()
        process.standardError = stderr
        process.arguments = ["--port", "0", "--max-frame-bytes", "4194304"]
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let handle = stderr.fileHandleForReading
        let port = try await withTimeout(seconds: 20) { [handle] in
            try await blocking {
                var log = ""
                return try ServerBinaryTests.waitForPort(handle, log: &log)
            }
        }
        let pid = process.processIdentifier

        // Warm up: the allocator and NIO reach their working size.
        let warm = try await RawConnection.connect(port: port)
        for i in 0..<200 { try await warm.send(#"{"type":"ping","id":\#(i)}"#) }
        for _ in 0..<200 { _ = try await warm.expectFrame() }
        let baseline = try #require(Self.residentKilobytes(pid))

        // Large frames: 40 frames of 3 MiB, each answered INVALID_ARGUMENT (a huge username).
        let big = String(repeating: "x", count: 3 * 1024 * 1024)
        for i in 0..<40 {
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(
                #"{"type":"request","id":\#(i),"method":"user.v1.UserService/RegisterUser","payload":{"username":"\#(big)","email":"a@b.co"}}"#)
            #expect(try await connection.expectFrame(timeout: 10).statusCode == "INVALID_ARGUMENT")
            await connection.close()
        }
        // A thousand connections, opened and dropped.
        for _ in 0..<10 {
            var batch: [RawConnection] = []
            for _ in 0..<100 { batch.append(try await RawConnection.connect(port: port)) }
            for connection in batch { await connection.close() }
        }
        // Prove the server is still prompt, then let closed connections be released.
        try await warm.send(#"{"type":"ping","id":9999}"#)
        #expect(try await warm.expectFrame(timeout: 5).frameID == 9999)
        let after = try #require(Self.residentKilobytes(pid))
        // "Near": within 32 MiB of the baseline, against 120 MiB of frames sent.
        #expect(after - baseline < 32 * 1024, "baseline \(baseline) kB, after \(after) kB")
        await warm.close()
        process.terminate()
    }
}
