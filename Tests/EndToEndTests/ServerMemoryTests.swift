import Foundation
import StrictJSON
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

    @Test("after every kind of hostile client, memory returns near its baseline")
    func memoryReturnsNearBaseline() async throws {
        let (server, port) = try await ServerProcess.start([
            "--port", "0", "--in-memory", "--max-frame-bytes", "4194304", "--read-timeout", "300ms", "--write-stall-timeout", "500ms",
            "--feed-capacity", "1000",
        ])
        defer { server.killIfRunning() }
        let pid = server.pid

        // Warm up: the allocator and NIO reach their working size.
        let warm = try await RawConnection.connect(port: port)
        try await step("warm-up pings") {
            for i in 0..<200 { try await warm.send(#"{"type":"ping","id":\#(i)}"#) }
            for _ in 0..<200 { _ = try await warm.expectFrame(timeout: 30) }
        }
        let baseline = try #require(Self.residentKilobytes(pid))

        // Large frames: 40 frames of 3 MiB, each answered INVALID_ARGUMENT (a huge username). The
        // server's read timeout is short (300 ms), but a frame that keeps arriving at its minimum
        // rate (16 KiB/s by default) is never cut off, however slowly this machine runs.
        let big = String(repeating: "x", count: 3 * 1024 * 1024)
        for i in 0..<40 {
            try await step("large frame \(i)") {
                let connection = try await RawConnection.connect(port: port)
                try await connection.send(
                    #"{"type":"request","id":\#(i),"method":"user.v1.UserService/RegisterUser","payload":{"username":"\#(big)","email":"a@b.co"}}"#)
                #expect(try await connection.expectFrame(timeout: 60).statusCode == "INVALID_ARGUMENT")
                await connection.close()
            }
        }
        // A thousand connections, opened and dropped.
        try await step("a thousand connections") {
            for _ in 0..<10 {
                var batch: [RawConnection] = []
                for _ in 0..<100 { batch.append(try await RawConnection.connect(port: port)) }
                for connection in batch { await connection.close() }
            }
        }
        // Malformed frames of every kind, each on its own connection (each closed, or answered).
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let hostile: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8), [0x16, 0x03, 0x01, 0x02, 0x00, 0x01], [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF],
            framed(Array(deep.utf8)), framed([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]),
            framed(Array(#"{"type":"ping","id":1,"id":2}"#.utf8)), framed(Array(#"{"type":"ping","id":1e400}"#.utf8)),
        ]
        try await step("malformed frames") {
            for _ in 0..<20 {
                for bytes in hostile {
                    let connection = try await RawConnection.connect(port: port)
                    try await connection.sendBytes(bytes)
                    _ = try? await connection.next(timeout: 5)
                    await connection.close()
                }
            }
        }
        // Slow drips: a started frame that never completes, cut off 300 ms after it began.
        try await step("slow drips") {
            for _ in 0..<50 {
                let connection = try await RawConnection.connect(port: port)
                try await connection.sendBytes([0, 0, 0, 100, 0x7B])
                #expect(try await connection.expectClosed(timeout: 30))
            }
        }
        // A client that never reads 20,000 answers: the server stops reading it, then closes it.
        try await step("a client that never reads") {
            let pile = try await RawConnection.connect(port: port, readsResponses: false)
            var batch: [String] = []
            for i in 0..<20_000 { batch.append(#"{"type":"request","id":\#(i),"method":"user.v1.UserService/SearchUsers","payload":{}}"#) }
            try? await pile.sendBatch(batch)
            await pile.close()
        }

        // Watchers that stop reading: 50 streams of changes granted one message each (their opening
        // bookmark) while 20,000 changes are made. The feed keeps at most its capacity (1,000 here);
        // a watcher keeps no backlog of its own (at most the batch it is sending), sends nothing
        // without credit, and its connection still answers.
        try await step("watchers that stop reading") {
            let watchers = try await RawConnection.connect(port: port)
            for id in 1...50 {
                try await watchers.send(
                    #"{"type":"request","id":\#(id),"method":"user.v2.UserService/WatchUsers","window":1,"payload":{"bookmarks":true}}"#)
            }
            for _ in 1...50 { #expect(try await watchers.expectFrame(timeout: 30)["type"]?.stringValue == "message") }
            let writer = try await RawConnection.connect(port: port)
            var batch: [String] = []
            for i in 0..<20_000 {
                batch.append(
                    #"{"type":"request","id":\#(i),"method":"user.v2.UserService/RegisterUser","payload":{"username":"mem\#(i)","email":"mem\#(i)@example.com"}}"#
                )
            }
            try await writer.sendBatch(batch)
            for _ in 0..<20_000 { #expect(try await writer.expectFrame(timeout: 60).statusCode == "OK") }
            await writer.close()
            // A stream whose next changes are past the feed's capacity when it reads them ends
            // OUT_OF_RANGE (it fell behind): that, and only that, may come besides what is awaited.
            var ended = Set<UInt64>()
            func isEnd(_ frame: JSONObject) -> Bool {
                guard frame["type"]?.stringValue == "response" else { return false }
                #expect(frame.statusCode == "OUT_OF_RANGE", "\(frame)")
                ended.insert(frame.frameID ?? 0)
                return true
            }
            // Nothing without credit: the answer to a ping comes before any message.
            try await watchers.send(#"{"type":"ping","id":700}"#)
            while true {
                let frame = try await watchers.expectFrame(timeout: 30)
                if frame["type"]?.stringValue == "pong", frame.frameID == 700 { break }
                #expect(isEnd(frame), "\(frame)")
            }
            // One more message each, then the answer to a ping sent after the credit.
            for id in 1...50 { try await watchers.send(#"{"type":"credit","id":\#(id),"add":1}"#) }
            try await watchers.send(#"{"type":"ping","id":701}"#)
            var sent = Set<UInt64>()
            var answered = false
            while sent.union(ended).count < 50 || !answered {
                let frame = try await watchers.expectFrame(timeout: 30)
                if frame["type"]?.stringValue == "message" {
                    let id = frame.frameID ?? 0
                    #expect(!sent.contains(id) && !ended.contains(id), "a second message of stream \(id)")
                    sent.insert(id)
                } else if !isEnd(frame) {
                    answered = answered || frame.frameID == 701
                }
            }
            #expect(sent.count + ended.count >= 50)
            // And no more messages: until the next ping's answer, only streams ending.
            try await watchers.send(#"{"type":"ping","id":702}"#)
            while true {
                let frame = try await watchers.expectFrame(timeout: 30)
                if frame["type"]?.stringValue == "pong", frame.frameID == 702 { break }
                #expect(isEnd(frame), "\(frame)")
            }
            await watchers.close()
        }

        // Prove the server is still prompt, then let closed connections be released.
        try await step("a ping after it all") {
            try await warm.send(#"{"type":"ping","id":9999}"#)
            #expect(try await warm.expectFrame(timeout: 30).frameID == 9999)
        }
        let after = try #require(Self.residentKilobytes(pid))
        // "Near": within 32 MiB of the baseline, against 120 MiB of frames sent.
        #expect(after - baseline < 32 * 1024, "baseline \(baseline) kB, after \(after) kB")
        await warm.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }
}

/// Runs one step of a long test; an error thrown by it says which step it was.
func step(_ name: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        throw StepFailure(step: name, underlying: error)
    }
}

struct StepFailure: Error, CustomStringConvertible {
    let step: String
    let underlying: any Error
    var description: String { "step '\(step)' failed: \(underlying)" }
}
