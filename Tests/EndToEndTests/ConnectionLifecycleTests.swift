import Foundation
import StrictJSON
import Testing
import UserCore
import UserRPCServer
import UserRPCTestKit

/// How connections end, seen from a client written from `docs/PROTOCOL.md`, over real sockets:
/// graceful shutdown with a client that reads slowly or not at all, the write stall rule, malformed
/// pings and cancels, and requests that cross a goaway. Limits leave room for a machine ten times
/// slower; every wait is bounded.
@Suite("Connection lifecycle")
struct ConnectionLifecycleTests {
    static func search(_ id: Int) -> String {
        #"{"type":"request","id":\#(id),"method":"user.v1.UserService/SearchUsers","payload":{"limit":50}}"#
    }

    /// Runs `body` with a server whose output backs up quickly, with 50 users so that each search
    /// answer is ~6 KB; then stops it, whether `body` returns or throws (see ``TestServer/scoped(_:)``).
    static func withBusyServer(
        logs: CapturedLogs? = nil, _ configure: (inout UserRPCServerConfiguration) -> Void = { _ in },
        body: (TestServer) async throws -> Void
    ) async throws {
        var configuration = UserRPCServerConfiguration.defaults { $0.writeBufferHighWaterMark = 16 * 1024 }
        configure(&configuration)
        var logger = logs?.logger()
        logger?.logLevel = .info
        try await TestServer.start(logger: logger) { [configuration] in
            $0 = configuration
            $0.port = 0
        }.scoped { server in
            let client = server.client()
            for i in 0..<50 { _ = try await client.registerUser(username: "wide\(i)", email: "wide\(i)@example.com") }
            await client.close()
            try await body(server)
        }
    }

    @Test(
        "graceful shutdown while the server has paused reading: goaway arrives, calls are answered in order, OK then UNAVAILABLE, none twice, no reset"
    )
    func shutdownWhileReadingPaused() async throws {
        // The default 1 MiB of unsent answers before the server stops reading: when it has answered
        // everything and closes, half of that may still wait for the slow client.
        let logs = CapturedLogs()
        try await Self.withBusyServer(logs: logs) {
            $0.gracePeriod = .seconds(120)
            $0.writeBufferHighWaterMark = 1024 * 1024
        } body: { server in
            let socket = try SocketClient(port: server.port, receiveBuffer: 8192)
            // 2,000 searches (about 12 MB of answers), none read yet: the server stops reading this client.
            try await blocking { try socket.send(frames: (0..<2_000).map(Self.search)) }
            let stopped = Task { try await server.stop() }
            // Now the client reads everything, slowly (about 800 KB/s: the last half megabyte takes longer
            // than the server's linger, which must not cut off a client that is still reading).
            let (frames, end) = try await blocking {
                socket.readFrames(for: 120, chunk: 4096) { usleep(5_000) }
            }
            #expect(end == .closed, "the connection ended with \(end): a client still reading must get everything, then a FIN")
            #expect(frames.filter { $0["type"]?.stringValue == "goaway" }.count == 1)
            // What the protocol promises (section 3.5): every request the server reads after the goaway
            // is answered UNAVAILABLE, and one unanswered when the connection ends did not run. How many
            // requests reach the server before it has been quiet for its linger depends on the kernels'
            // TCP windows (a request may wait in the client's send buffer), not on the server; so the
            // answers are checked for what the server controls: requests are read and answered in order,
            // each at most once, those read before the goaway run (OK) and those after do not (UNAVAILABLE).
            let responses = frames.filter { $0["type"]?.stringValue == "response" }
            let ids = responses.compactMap(\.frameID).sorted()
            #expect(ids == (0..<UInt64(responses.count)).map { $0 }, "answered ids are not 0..<\(responses.count): \(ids.prefix(10))…")
            let codes = responses.sorted { ($0.frameID ?? 0) < ($1.frameID ?? 0) }.map { $0.statusCode ?? "?" }
            let okCount = codes.prefix { $0 == "OK" }.count
            #expect(codes.dropFirst(okCount).allSatisfy { $0 == "UNAVAILABLE" }, "after the first non-OK answer: \(Set(codes.dropFirst(okCount)))")
            #expect(okCount < 2_000 && codes.count > okCount, "no request crossed the goaway: \(okCount) OK of \(codes.count)")
            if responses.count < 2_000 {
                // Not a failure (see above); the server's log says why it closed, for anyone reading this.
                print("shutdownWhileReadingPaused: \(2_000 - responses.count) requests were still on their way; server log: \(logs.all.suffix(5))")
            }
            try await withTimeout(seconds: 60) { try await stopped.value }
        }
    }

    @Test("the grace period is enforced for a client that does not read: the server stops at its end")
    func graceEnforced() async throws {
        try await Self.withBusyServer {
            $0.gracePeriod = .seconds(1)
        } body: { server in
            let socket = try SocketClient(port: server.port, receiveBuffer: 4096)
            try await blocking { try socket.send(frames: (0..<2_000).map(Self.search)) }
            let started = ContinuousClock.now
            // Without the grace period enforced, answers would trickle for as long as the client reads.
            try await withTimeout(seconds: 60) { try await server.stop() }
            #expect(ContinuousClock.now - started < .seconds(30))
            let (_, end) = try await blocking { socket.readFrames(for: 30) }
            #expect(end != .timedOut)
        }
    }

    @Test("the write stall timeout spares a client that keeps reading, however slowly")
    func slowReaderIsNotAStall() async throws {
        // The server pauses above 256 KiB of unsent answers and resumes below 128 KiB: at 100 KB/s,
        // draining that half takes longer than the 1 s stall timeout, although the client never stops
        // reading. Only a stall measured as the absence of progress spares it.
        try await Self.withBusyServer {
            $0.writeBufferHighWaterMark = 256 * 1024
            $0.writeStallTimeout = .seconds(1)
        } body: { server in
            let socket = try SocketClient(port: server.port, receiveBuffer: 8192)
            try await blocking { try socket.send(frames: (0..<100).map(Self.search)) }
            // About 600 KB of answers, read 1 KB every 10 ms.
            let (frames, end) = try await blocking {
                socket.readFrames(for: 120, count: 100, chunk: 1024) { usleep(10_000) }
            }
            #expect(end == .timedOut, "the connection ended (\(end))")
            #expect(frames.filter { $0["type"]?.stringValue == "response" }.count == 100, "cut off after \(frames.count) answers (\(end))")
        }
    }

    @Test("a malformed ping or cancel with a call's id gets no answer; the call gets exactly one")
    func malformedPingAndCancel() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(
                #"{"type":"request","id":5,"method":"user.v1.UserService/GetUser","payload":{"id":"\#(store.gatedID.lowercasedText)"}}"#)
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()
            try await connection.send(#"{"type":"ping","id":5,"x":1}"#)
            try await connection.send(#"{"type":"cancel","id":5,"x":1}"#)
            try await connection.send(#"{"type":"ping","id":6}"#)
            let pong = try await connection.expectFrame()
            #expect(pong["type"]?.stringValue == "pong" && pong.frameID == 6)
            store.openGate()
            let answer = try await connection.expectFrame()
            #expect(answer.frameID == 5)
            try await connection.send(#"{"type":"ping","id":7}"#)
            #expect(try await connection.expectFrame().frameID == 7, "a second answer for call 5 came first")
            await connection.close()
        }
    }

    @Test("a request sent just after an idle goaway is answered UNAVAILABLE, not met by a closed connection")
    func requestCrossingGoaway() async throws {
        try await TestServer.start {
            $0.idleTimeout = .milliseconds(300)
            $0.closeLinger = .seconds(10)
        }.scoped { server in
            let connection = try await server.rawConnection()
            #expect(try await connection.expectFrame(timeout: 30)["type"]?.stringValue == "goaway")
            try await connection.send(Self.search(1))
            let answer = try await connection.expectFrame(timeout: 30)
            #expect(answer.frameID == 1 && answer.statusCode == "UNAVAILABLE")
            await connection.close()
        }
    }
}
