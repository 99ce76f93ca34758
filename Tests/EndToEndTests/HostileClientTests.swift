import Foundation
import StrictJSON
import Testing
import UserCore
import UserRPCServer
import UserRPCTestKit

#if canImport(Glibc)
    import Glibc
#endif

/// Clients that break the rules on purpose. After each, the server still answers a normal call on a
/// fresh connection, and other connections are undisturbed. Every wait is bounded.
@Suite("Hostile clients")
struct HostileClientTests {
    /// Linux's POLLRDHUP (the peer closed its end), which Swift does not import.
    static let pollPeerHangUp: Int16 = 0x2000

    /// A fresh connection gets a pong promptly.
    private func expectHealthy(_ server: TestServer) async throws {
        let probe = try await server.rawConnection()
        try await probe.send(#"{"type":"ping","id":99}"#)
        #expect(try await probe.expectFrame(timeout: 30).frameID == 99)
        await probe.close()
    }

    @Test("malformed frames close the connection or get INVALID_ARGUMENT, and nothing else breaks")
    func malformedInputs() async throws {
        try await withTestServer { server in
            let steady = try await server.rawConnection()
            let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let hugeString = String(repeating: "a", count: 1_000_000)
            let cases: [(name: String, bytes: [UInt8], closes: Bool)] = [
                ("invalid UTF-8", framed([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), true),
                ("deeply nested JSON", framed(Array(deep.utf8)), true),
                ("huge number id", framed(Array(#"{"type":"ping","id":\#(String(repeating: "9", count: 400))}"#.utf8)), true),
                ("duplicate keys", framed(Array(#"{"type":"ping","id":1,"id":2}"#.utf8)), true),
                ("id above uint64", framed(Array(#"{"type":"ping","id":18446744073709551616}"#.utf8)), true),
                ("negative id", framed(Array(#"{"type":"ping","id":-1}"#.utf8)), true),
                ("truncated frame then EOF", [0, 0, 0, 50] + Array(#"{"type":"ping""#.utf8), false),
                ("TLS ClientHello", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + [UInt8](repeating: 0, count: 32), true),
                ("HTTP request", Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), true),
                ("NUL bytes", [0, 0, 0, 3, 0, 0, 0], true),
                (
                    "huge username",
                    framed(
                        Array(
                            #"{"type":"request","id":5,"method":"user.v1.UserService/RegisterUser","payload":{"username":"\#(hugeString)","email":"a@b.co"}}"#
                                .utf8)),
                    false
                ),
                (
                    "wrong types everywhere",
                    framed(
                        Array(
                            #"{"type":"request","id":6,"method":"user.v1.UserService/SearchUsers","payload":{"username":[],"email":{},"limit":"5","page_token":7}}"#
                                .utf8)),
                    false
                ),
            ]
            for hostile in cases {
                let connection = try await server.rawConnection()
                try await connection.sendBytes(hostile.bytes)
                if hostile.closes {
                    #expect(try await connection.expectClosed(timeout: 30), "\(hostile.name)")
                } else if hostile.name.hasPrefix("truncated") {
                    await connection.close()
                } else {
                    let answer = try await connection.expectFrame(timeout: 30)
                    #expect(answer.statusCode == "INVALID_ARGUMENT", "\(hostile.name)")
                    await connection.close()
                }
                try await expectHealthy(server)
            }
            // The connection opened before all this is unaffected.
            try await steady.send(#"{"type":"ping","id":1}"#)
            #expect(try await steady.expectFrame().frameID == 1)
        }
    }

    @Test("a duplicate key, deep nesting or a huge number in a frame with a usable id costs only that call")
    func parserRulesCostOneCall() async throws {
        try await withTestServer { server in
            let connection = try await server.rawConnection()
            let frames = [
                #"{"type":"request","id":1,"method":"user.v1.UserService/SearchUsers","payload":{"limit":5,"limit":6}}"#,
                #"{"type":"request","id":2,"method":"user.v1.UserService/SearchUsers","payload":{"username":"#
                    + String(repeating: "[", count: 2_000) + String(repeating: "]", count: 2_000) + "}}",
                #"{"type":"request","id":3,"method":"user.v1.UserService/SearchUsers","payload":{"limit":"# + String(repeating: "7", count: 300)
                    + "}}",
                #"{"type":"request","id":4,"method":"user.v1.UserService/SearchUsers","payload":{"limit":123456789012345678901234567890}}"#,
            ]
            for (index, frame) in frames.enumerated() {
                try await connection.send(frame)
                let answer = try await connection.expectFrame()
                #expect(answer.frameID == UInt64(index + 1))
                #expect(answer.statusCode == "INVALID_ARGUMENT", "\(answer)")
                if index >= 2 {
                    // A number of any length where an integer is expected: the field is named.
                    guard case .array(let violations)? = answer["status"]?.objectValue?["details"]?.objectValue?["field_violations"] else {
                        Issue.record("no field violations: \(answer)")
                        continue
                    }
                    #expect(violations.first?.objectValue?["field"] == "limit", "\(answer)")
                }
            }
            // A broken ping is dropped: the next answer is the next request's.
            try await connection.send(#"{"type":"ping","id":9,"x":1,"x":2}"#)
            // The connection still serves.
            try await connection.send(#"{"type":"request","id":5,"method":"user.v1.UserService/SearchUsers","payload":{"limit":5}}"#)
            let next = try await connection.expectFrame()
            #expect(next.frameID == 5 && next.statusCode == "OK", "\(next)")
            await connection.close()
        }
    }

    @Test("answers do not grow with the request: at most 100 violations, field and method names cut at 128 bytes")
    func boundedAnswers() async throws {
        try await withTestServer { server in
            let connection = try await server.rawConnection()
            // 40,000 unknown fields with 40-byte names: a 2 MB request.
            var payload = #"{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1""#
            for n in 0..<40_000 { payload += #","unknown_field_number_\#(String(repeating: "x", count: 12))\#(n)":1"# }
            payload += "}"
            try await connection.send(#"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","payload":\#(payload)}"#)
            let body = try #require(try await connection.nextBody(timeout: 30))
            #expect(body.count < 64 * 1024, "\(body.count) bytes")
            let answer = try JSONParser().parse(body).objectValue
            #expect(answer?.statusCode == "INVALID_ARGUMENT")
            let status = answer?["status"]?.objectValue
            guard case .array(let violations)? = status?["details"]?.objectValue?["field_violations"] else {
                Issue.record("no field_violations")
                return
            }
            #expect(violations.count == 100)
            #expect(status?["message"]?.stringValue?.hasSuffix("; … (39900 more)") == true)

            let longKey = String(repeating: "k", count: 10_000)
            try await connection.send(#"{"type":"request","id":2,"method":"user.v1.UserService/GetUser","payload":{"\#(longKey)":1}}"#)
            let second = try #require(try await connection.nextBody(timeout: 30))
            #expect(second.count < 2_048)
            // Envelope members are cut too: a metadata key, an unknown member.
            try await connection.send(#"{"type":"request","id":4,"method":"user.v1.UserService/GetUser","metadata":{"\#(longKey)":1},"payload":{}}"#)
            let fourth = try #require(try await connection.nextBody(timeout: 30))
            #expect(fourth.count < 1_024 && String(decoding: fourth, as: UTF8.self).contains("INVALID_ARGUMENT"))
            try await connection.send(#"{"type":"request","id":5,"method":"user.v1.UserService/GetUser","\#(longKey)":1,"payload":{}}"#)
            let fifth = try #require(try await connection.nextBody(timeout: 30))
            #expect(fifth.count < 1_024 && String(decoding: fifth, as: UTF8.self).contains("unknown field"))
            let longMethod = "user.v1.UserService/" + String(repeating: "m", count: 100_000)
            try await connection.send(#"{"type":"request","id":3,"method":"\#(longMethod)","payload":{}}"#)
            let third = try #require(try await connection.nextBody(timeout: 30))
            #expect(third.count < 1_024)
            #expect(String(decoding: third, as: UTF8.self).contains("UNIMPLEMENTED"))
            await connection.close()
        }
    }

    @Test("a frame that does not arrive in full within the read timeout closes the connection (slow drip)")
    func slowDrip() async throws {
        try await TestServer.start { $0.readTimeout = .milliseconds(300) }.scoped { server in
            let connection = try await server.rawConnection()
            try await connection.sendBytes([0, 0, 0, 40] + Array(#"{"type":"#.utf8))
            // Closed by the 300 ms read timeout (the idle timeout is minutes away); the bound only keeps a
            // broken server from hanging the test.
            #expect(try await connection.expectClosed(timeout: 30))
            try await expectHealthy(server)
        }
    }

    @Test("an idle connection gets goaway and is closed after the idle timeout")
    func idleTimeout() async throws {
        try await TestServer.start { $0.idleTimeout = .milliseconds(300) }.scoped { server in
            let connection = try await server.rawConnection()
            #expect(try await connection.expectFrame(timeout: 30)["type"] == .string("goaway"))
            #expect(try await connection.expectClosed(timeout: 30))
        }
    }

    @Test("a connection over the limit is closed at once and counted; the others carry on")
    func maxConnections() async throws {
        try await TestServer.start { $0.maxConnections = 2 }.scoped { server in
            let first = try await server.rawConnection()
            let second = try await server.rawConnection()
            for (index, connection) in [first, second].enumerated() {
                try await connection.send(#"{"type":"ping","id":\#(index)}"#)
                #expect(try await connection.expectFrame().frameID == UInt64(index))
            }
            let third = try await server.rawConnection()
            #expect(try await third.expectClosed(timeout: 30))
            #expect(server.server.rejectedConnections == 1)
            try await first.send(#"{"type":"ping","id":7}"#)
            #expect(try await first.expectFrame().frameID == 7)
        }
    }

    @Test("every call has a deadline: timeout_ms is capped, and calls without one get the default")
    func deadlineCapAndDefault() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)) {
            $0.maxTimeout = .milliseconds(200)
            $0.defaultTimeout = .milliseconds(200)
        }.scoped { server in
            let connection = try await server.rawConnection()
            let id = store.gatedID.lowercasedText
            try await connection.send(
                #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","timeout_ms":100000000,"payload":{"id":"\#(id)"}}"#)
            #expect(try await connection.expectFrame(timeout: 30).statusCode == "DEADLINE_EXCEEDED")
            try await connection.send(#"{"type":"request","id":2,"method":"user.v1.UserService/GetUser","payload":{"id":"\#(id)"}}"#)
            #expect(try await connection.expectFrame(timeout: 30).statusCode == "DEADLINE_EXCEEDED")
            store.openGate()
        }
    }

    @Test("a client that never reads cannot make the server buffer without bound: it stops reading, then closes")
    func neverReads() async throws {
        try await TestServer.start {
            $0.writeBufferHighWaterMark = 64 * 1024
            $0.writeStallTimeout = .milliseconds(500)
        }.scoped { server in
            let client = server.client()
            for i in 0..<100 { _ = try await client.registerUser(username: "wide\(i)", email: "wide\(i)@example.com") }

            // A plain socket with a small receive buffer that is never read.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(fd >= 0)
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            defer { close(fd) }
            // 150,000 searches of 100 users each (15 MB of requests, 2 GB of responses), none read.
            var batch: [UInt8] = []
            batch.reserveCapacity(16_000_000)
            for i in 0..<150_000 {
                batch += framed(Array(#"{"type":"request","id":\#(i),"method":"user.v1.UserService/SearchUsers","payload":{"limit":100}}"#.utf8))
            }
            var flags = fcntl(fd, F_GETFL)
            flags |= O_NONBLOCK
            _ = fcntl(fd, F_SETFL, flags)
            // Write until the server stops taking bytes (its reading paused) or the connection ends.
            var sent = 0
            var peerGone = false
            let sendUntil = ContinuousClock.now + .seconds(5)
            while sent < batch.count && !peerGone && ContinuousClock.now < sendUntil {
                let n = batch[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    sent += n
                } else if errno == EAGAIN || errno == EWOULDBLOCK {
                    var waitFor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&waitFor, 1, 100)  // wait until the socket takes bytes again (bounded)
                } else {
                    peerGone = true
                }
            }
            #expect(sent < batch.count, "the server stopped reading before taking all the requests")
            try await expectHealthy(server)  // other connections are served meanwhile
            // After the write stall timeout the server closes the connection: the socket reports it.
            var events = pollfd(fd: fd, events: Self.pollPeerHangUp, revents: 0)
            let ready = poll(&events, 1, 10_000)
            #expect(ready == 1)
            #expect(events.revents & (Self.pollPeerHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0)
            try await expectHealthy(server)
            await client.close()
        }
    }

    @Test("1000 connections opened and dropped leave the server healthy")
    func connectionChurn() async throws {
        try await withTestServer { server in
            for _ in 0..<10 {
                var batch: [RawConnection] = []
                for _ in 0..<100 { batch.append(try await server.rawConnection()) }
                for connection in batch { await connection.close() }
            }
            try await expectHealthy(server)
        }
    }
}
