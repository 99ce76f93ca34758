import Foundation
import StrictJSON
import Testing
import UserCore
import UserRPCServer
import UserRPCTestKit

@Suite("Wire protocol against a live server")
struct ProtocolEndToEndTests {
    private static let getUser = "user.v1.UserService/GetUser"
    private static let register = "user.v1.UserService/RegisterUser"

    private func request(id: UInt64, method: String, payload: String, extra: String = "") -> String {
        #"{"type":"request","id":\#(id),"method":"\#(method)"\#(extra),"payload":\#(payload)}"#
    }

    @Test("ping is answered with pong; the full uint64 id range round-trips", arguments: Backend.allCases)
    func pingAndIDs(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            try await connection.send(#"{"type":"ping","id":18446744073709551615}"#)
            let pong = try await connection.expectFrame()
            #expect(pong["type"] == .string("pong"))
            #expect(pong.frameID == UInt64.max)
            try await connection.send(request(id: UInt64.max - 1, method: Self.register, payload: #"{"username":"max","email":"max@example.com"}"#))
            let response = try await connection.expectFrame()
            #expect(response.frameID == UInt64.max - 1)
            #expect(response.statusCode == "OK")
            await connection.close()
        }
    }

    @Test("payload is present exactly when the status is OK; absent keys are absent", arguments: Backend.allCases)
    func payloadPresence(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 1, method: Self.register, payload: #"{"username":"ada","email":"ada@example.com"}"#))
            let ok = try await connection.expectFrame()
            #expect(ok.keys == ["type", "id", "metadata", "status", "payload"])
            #expect(ok["metadata"]?.objectValue?.keys == ["x-request-id"], "the request id is the only metadata")
            #expect(ok["status"]?.objectValue?.keys == ["code", "message"])
            try await connection.send(request(id: 2, method: Self.getUser, payload: #"{"id":"00000000-0000-7000-8000-000000000000"}"#))
            let notFound = try await connection.expectFrame()
            #expect(notFound.statusCode == "NOT_FOUND")
            #expect(notFound.payload == nil)
            #expect(!notFound.members.contains { $0.value == .null })
            await connection.close()
        }
    }

    @Test("200 calls pipelined on one connection are all answered, matched by id", arguments: Backend.allCases)
    func pipelining(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 0, method: Self.register, payload: #"{"username":"pipe","email":"pipe@example.com"}"#))
            let id = try #require(try await connection.expectFrame().payload?["id"]?.stringValue)
            let frames = (1...200).map { request(id: UInt64($0), method: Self.getUser, payload: #"{"id":"\#(id)"}"#) }
            try await connection.sendBatch(frames)
            var answered: Set<UInt64> = []
            for _ in 1...200 {
                let response = try await connection.expectFrame()
                #expect(response.statusCode == "OK")
                #expect(response.payload?["username"] == .string("pipe"))
                answered.insert(try #require(response.frameID))
            }
            #expect(answered == Set(1...200))
            await connection.close()
        }
    }

    @Test("a slow call does not hold back a fast one: responses go out in completion order")
    func completionOrder() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 1, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#))
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()
            try await connection.send(request(id: 2, method: Self.register, payload: #"{"username":"fast","email":"fast@example.com"}"#))
            let first = try await connection.expectFrame()
            #expect(first.frameID == 2)
            store.openGate()
            let second = try await connection.expectFrame()
            #expect(second.frameID == 1)
            #expect(second.statusCode == "NOT_FOUND")
            await connection.close()
        }
    }

    @Test("cancel ends an in-flight call with exactly one CANCELLED; unknown ids are ignored")
    func cancel() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 7, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#))
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()
            try await connection.send(#"{"type":"cancel","id":7}"#)
            let cancelled = try await connection.expectFrame()
            #expect(cancelled.frameID == 7)
            #expect(cancelled.statusCode == "CANCELLED")
            // A second cancel, and a cancel for an id never used, produce nothing: the next frame is the pong.
            try await connection.send(#"{"type":"cancel","id":7}"#)
            try await connection.send(#"{"type":"cancel","id":12345}"#)
            store.openGate()
            try await connection.send(#"{"type":"ping","id":8}"#)
            let pong = try await connection.expectFrame()
            #expect(pong["type"] == .string("pong"))
            #expect(pong.frameID == 8)
            await connection.close()
        }
    }

    @Test("timeout_ms bounds the call: DEADLINE_EXCEEDED, and timeout_ms 0 fails at once")
    func deadline() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(
                request(id: 1, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#, extra: #","timeout_ms":100"#))
            let expired = try await connection.expectFrame()
            #expect(expired.frameID == 1)
            #expect(expired.statusCode == "DEADLINE_EXCEEDED")
            try await connection.send(
                request(id: 2, method: Self.register, payload: #"{"username":"zero","email":"zero@example.com"}"#, extra: #","timeout_ms":0"#))
            let zero = try await connection.expectFrame()
            #expect(zero.statusCode == "DEADLINE_EXCEEDED")
            // The zero-deadline registration never ran.
            #expect(try store.inner.search(UserSearchQuery(limit: 10), cancellation: nil).isEmpty)
            store.openGate()
            await connection.close()
        }
    }

    @Test("deadlines of calls in flight end each call at its own deadline, earliest first, whatever order they came in")
    func deadlinesInOrder() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            let gated = #"{"id":"\#(store.gatedID.lowercasedText)"}"#
            // The server keeps one timer for the earliest deadline, moved earlier as calls with earlier
            // deadlines arrive: each call still ends at its own deadline, in deadline order. The three
            // go in one write, so the server reads them together and their deadlines count from the
            // same instant (sent one by one, a loaded machine could read the third a second after the
            // first); when a loaded machine's timer is late, the calls due are answered earliest first.
            let requests = [(1, 3000), (2, 1000), (3, 2000)].map { id, timeout in
                request(id: UInt64(id), method: Self.getUser, payload: gated, extra: #","timeout_ms":\#(timeout)"#)
            }
            try await connection.sendBytes(requests.flatMap { framed(Array($0.utf8)) })
            var answers: [(UInt64?, String?)] = []
            for _ in 0..<3 {
                let frame = try await connection.expectFrame(timeout: 10)
                answers.append((frame.frameID, frame.statusCode))
            }
            #expect(answers.map(\.0) == [2, 3, 1])
            #expect(answers.map(\.1) == ["DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED"])
            store.openGate()
            await connection.close()
        }
    }

    @Test("a second call with an id already in flight is rejected; the first still completes")
    func duplicateInFlightID() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            let slow = request(id: 5, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#)
            try await connection.send(slow)
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()
            try await connection.send(slow)
            let duplicate = try await connection.expectFrame()
            #expect(duplicate.frameID == 5)
            #expect(duplicate.statusCode == "INVALID_ARGUMENT")
            store.openGate()
            let original = try await connection.expectFrame()
            #expect(original.frameID == 5)
            #expect(original.statusCode == "NOT_FOUND")
            await connection.close()
        }
    }

    @Test("calls past the per-connection limit get RESOURCE_EXHAUSTED; the connection stays usable")
    func concurrencyLimit() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)) { $0.maxConcurrentCallsPerConnection = 2 }.scoped { server in
            let connection = try await server.rawConnection()
            let payload = #"{"id":"\#(store.gatedID.lowercasedText)"}"#
            try await connection.sendBatch((1...3).map { request(id: UInt64($0), method: Self.getUser, payload: payload) })
            let rejected = try await connection.expectFrame()
            #expect(rejected.frameID == 3)
            #expect(rejected.statusCode == "RESOURCE_EXHAUSTED")
            store.openGate()
            let done = [try await connection.expectFrame(), try await connection.expectFrame()]
            #expect(Set(done.compactMap(\.frameID)) == [1, 2])
            await connection.close()
        }
    }

    @Test("protocol errors: INVALID_ARGUMENT where an id is known, otherwise the connection closes", arguments: Backend.allCases)
    func protocolErrors(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            try await connection.send(#"{"type":"request","id":1}"#)
            let noMethod = try await connection.expectFrame()
            #expect(noMethod.frameID == 1)
            #expect(noMethod.statusCode == "INVALID_ARGUMENT")
            try await connection.send(#"{"type":"request","id":2,"method":"user.v1.UserService/GetUser","payload":{"id":7}}"#)
            let wrongType = try await connection.expectFrame()
            #expect(wrongType.statusCode == "INVALID_ARGUMENT")
            try await connection.send(#"{"type":"request","method":"user.v1.UserService/GetUser","payload":{}}"#)
            #expect(try await connection.expectClosed())

            for garbage in ["not json", "[1,2]", #"{"type":"request","id":-1,"method":"m"}"#] {
                let other = try await server.rawConnection()
                try await other.send(garbage)
                #expect(try await other.expectClosed(), "\(garbage)")
            }

            // A length prefix over the limit closes the connection without the body being sent.
            let oversized = try await server.rawConnection()
            try await oversized.sendBytes([0x7F, 0xFF, 0xFF, 0xFF])
            #expect(try await oversized.expectClosed())
            let empty = try await server.rawConnection()
            try await empty.sendBytes([0, 0, 0, 0])
            #expect(try await empty.expectClosed())

        }
    }

    @Test("a bad connection does not disturb another one", arguments: Backend.allCases)
    func isolation(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let good = try await server.rawConnection()
            let bad = try await server.rawConnection()
            try await good.send(request(id: 1, method: Self.register, payload: #"{"username":"steady","email":"steady@example.com"}"#))
            #expect(try await good.expectFrame().statusCode == "OK")
            try await bad.sendBytes(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(try await bad.expectClosed())
            try await good.send(#"{"type":"ping","id":2}"#)
            #expect(try await good.expectFrame().frameID == 2)
            await good.close()
        }
    }

    @Test("graceful shutdown: goaway, new calls refused, the in-flight call finishes, then close")
    func gracefulShutdown() async throws {
        let store = GatedUserStore()
        try store.inner.insert(UserCore.User(id: store.gatedID, username: "held", email: "held@example.com", createdAt: Date()))
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 1, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#))
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()

            server.server.beginGracefulShutdown()
            let goaway = try await connection.expectFrame()
            #expect(goaway["type"] == .string("goaway"))
            // New connections are not served: refused, or closed without an answer.
            if let late = try? await server.rawConnection() {
                try? await late.send(#"{"type":"ping","id":42}"#)
                let answer = try? await late.next(timeout: 2)
                #expect(answer == nil, "a connection opened after shutdown began was served")
            }

            try await connection.send(request(id: 2, method: Self.register, payload: #"{"username":"late","email":"late@example.com"}"#))
            let refused = try await connection.expectFrame()
            #expect(refused.frameID == 2)
            #expect(refused.statusCode == "UNAVAILABLE")

            store.openGate()
            let finished = try await connection.expectFrame()
            #expect(finished.frameID == 1)
            #expect(finished.statusCode == "OK")
            #expect(finished.payload?["username"] == .string("held"))
            #expect(try await connection.expectClosed())
            try await withTimeout(seconds: 10) { try await server.waitUntilStopped() }
            #expect(store.inner.count == 1, "the refused registration never ran")
        }
    }

    @Test("when the grace period ends, calls still running get UNAVAILABLE and the server stops")
    func gracePeriodExpiry() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)) { $0.gracePeriod = .milliseconds(200) }.scoped { server in
            let connection = try await server.rawConnection()
            try await connection.send(request(id: 1, method: Self.getUser, payload: #"{"id":"\#(store.gatedID.lowercasedText)"}"#))
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()
            server.server.beginGracefulShutdown()
            #expect(try await connection.expectFrame()["type"] == .string("goaway"))
            let cut = try await connection.expectFrame()
            #expect(cut.frameID == 1)
            #expect(cut.statusCode == "UNAVAILABLE")
            #expect(try await connection.expectClosed())
            try await withTimeout(seconds: 10) { try await server.waitUntilStopped() }
            store.openGate()
        }
    }
}
