import Foundation
import HealthV1
import NIOConcurrencyHelpers
import Testing
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserRPCWire

/// `count.v1.Counter/Count`: streams "0", "1", … up to the request's number, then ends OK.
struct CountingService: RPCService {
    struct Number: RPCMessage, Hashable {
        static let messageName = "Number"
        var value: Int
        init(value: Int) { self.value = value }
        init(fields: inout some MessageFieldReader) { value = fields.required("value", as: Int.self) }
        func write(fields: inout MessageFieldWriter) { fields.field("value", value) }
    }

    static let count = ServerStreamingMethodDescriptor<Number, Number>(service: "count.v1.Counter", name: "Count")

    /// How each stream's producer ended: the status its last write threw (a stream that ended OK is
    /// not reported).
    let ends = AsyncStream.makeStream(of: RPCError.self)

    var schema: ServiceSchema {
        ServiceSchema(
            embedded: #"""
                {"package":"count.v1","service":"Counter","methods":[
                  {"name":"Count","full_name":"count.v1.Counter/Count","request":"Number","response":"Number","streaming":"server"}],
                 "messages":{"Number":{"type":"object","required":["value"],"properties":{"value":{"type":"integer"}}}}}
                """#)
    }

    func registerMethods(with router: inout RPCRouter) {
        let ends = self.ends.continuation
        router.registerServerStreaming(Self.count) { request, _, writer throws(RPCError) in
            do throws(RPCError) {
                for value in 0..<request.value { try await writer.write(Number(value: value)) }
            } catch {
                ends.yield(error)
                throw error
            }
        }
    }
}

/// Server-streaming calls through the client library and the CLI, on a real socket.
@Suite("Streams end to end", .timeLimit(.minutes(2)))
struct StreamingEndToEndTests {
    @Test("health Watch: the status at once, NOT_SERVING when a graceful shutdown begins, then the stream ends")
    func healthWatch() async throws {
        try await TestServer.start { $0.shutdownDrainDelay = .seconds(600) }.scoped { server in
            let client = server.client()
            var seen: [HealthCheckResponse] = []
            for try await status in client.health.watch() {
                seen.append(status)
                if seen.count == 1 { server.server.beginGracefulShutdown() }
            }
            #expect(seen.map(\.status) == [.serving, .notServing])
            #expect(seen.last?.detail == "the server is shutting down")
            await client.close()
        }
    }

    @Test("a long stream through a small window arrives whole and in order: the client grants credit as the loop takes messages")
    func smallWindow() async throws {
        try await TestServer.start(extraServices: [CountingService()]).scoped { server in
            let client = server.client()
            var values: [Int] = []
            for try await number in client.stream(CountingService.count, .init(value: 5000), window: 8) { values.append(number.value) }
            #expect(values == Array(0..<5000))
            await client.close()
        }
    }

    @Test("a loop that stops taking messages holds up its stream only: unary calls on the same client go on, and nothing is lost")
    func pausedLoop() async throws {
        try await TestServer.start(extraServices: [CountingService()]).scoped { server in
            let client = server.client()
            var iterator = client.stream(CountingService.count, .init(value: 300), window: 4).makeAsyncIterator()
            #expect(try await iterator.next()?.value == 0)
            for index in 0..<50 {
                let user = try await client.registerUser(username: "paused\(index)", email: "paused\(index)@example.com")
                #expect(try await client.getUser(id: user.id) == user)
            }
            var values = [0]
            while let number = try await iterator.next() { values.append(number.value) }
            #expect(values == Array(0..<300))
            await client.close()
        }
    }

    @Test("cancelling the loop's task ends the call: the loop throws CANCELLED and the connection serves on")
    func cancelledTask() async throws {
        try await TestServer.start().scoped { server async throws in
            let client = server.client()
            let (firstSeen, seen) = AsyncStream.makeStream(of: Void.self)
            let watcher = Task { () async throws(UserRPCError) -> Int in
                var count = 0
                for try await _ in client.health.watch() {
                    count += 1
                    seen.yield()
                }
                return count
            }
            var iterator = firstSeen.makeAsyncIterator()
            _ = await iterator.next()
            watcher.cancel()
            let outcome = await watcher.result
            guard case .failure(let error as UserRPCError) = outcome else {
                Issue.record("the loop ended without a UserRPCError: \(outcome)")
                return
            }
            #expect(error.code == .cancelled)
            #expect(try await client.checkHealth().status == .serving)
            await client.close()
        }
    }

    @Test("a cancelled task's next read throws CANCELLED even with messages waiting, and the server's producer is stopped")
    func cancelledWithMessagesWaiting() async throws {
        let counting = CountingService()
        try await TestServer.start(extraServices: [counting]).scoped { server in
            let client = server.client()
            let (firstTaken, taken) = AsyncStream.makeStream(of: Void.self)
            let (goOn, go) = AsyncStream.makeStream(of: Void.self)
            let reader = Task { () async throws -> Int in
                var iterator = client.stream(CountingService.count, .init(value: 1_000_000), window: 16).makeAsyncIterator()
                _ = try await iterator.next()
                taken.yield()
                var gate = goOn.makeAsyncIterator()
                _ = await gate.next()
                return try await iterator.next()?.value ?? -1
            }
            var first = firstTaken.makeAsyncIterator()
            _ = await first.next()
            reader.cancel()
            go.yield()
            let outcome = await reader.result
            guard case .failure(let error as UserRPCError) = outcome else {
                Issue.record("the read after the cancel did not throw: \(outcome)")
                return
            }
            #expect(error.code == .cancelled)
            var ends = counting.ends.stream.makeAsyncIterator()
            #expect(await ends.next()?.code == .cancelled)
            await client.close()
        }
    }

    @Test("leaving a loop and closing the client at once (a scoped client) still ends the stream on the server")
    func leaveAndClose() async throws {
        let counting = CountingService()
        try await TestServer.start(extraServices: [counting]).scoped { server in
            let configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            try await withUserRPCClient(configuration) { client async throws(UserRPCError) in
                for try await number in client.stream(CountingService.count, .init(value: 1_000_000), window: 4) where number.value == 2 {
                    break
                }
            }
            var ends = counting.ends.stream.makeAsyncIterator()
            #expect(await ends.next()?.code == .cancelled)
        }
    }

    @Test("leaving the loop early cancels the call on the server (its producer's write fails CANCELLED); the client serves on")
    func leavingTheLoop() async throws {
        let counting = CountingService()
        try await TestServer.start(extraServices: [counting]).scoped { server in
            let client = server.client()
            for try await number in client.stream(CountingService.count, .init(value: 1_000_000), window: 2) where number.value == 3 {
                break
            }
            var ends = counting.ends.stream.makeAsyncIterator()
            #expect(await ends.next()?.code == .cancelled)
            var values: [Int] = []
            for try await number in client.stream(CountingService.count, .init(value: 3)) { values.append(number.value) }
            #expect(values == [0, 1, 2])
            #expect(try await client.checkHealth().status == .serving)
            await client.close()
        }
    }

    @Test("a stream's error ends the loop with its status: UNIMPLEMENTED for a method the server does not have")
    func streamError() async throws {
        try await TestServer.start().scoped { server in
            let client = server.client()
            let error = await #expect(throws: UserRPCError.self) {
                for try await _ in client.stream(CountingService.count, .init(value: 3)) {}
            }
            #expect(error?.code == .unimplemented)
            await client.close()
        }
    }
}

/// A sleep that returns when the test says: each `advance()` waits for a sleeper, then wakes it.
final class ManualSleeps: Sendable {
    private struct State {
        var sleepers: [CheckedContinuation<Void, any Error>] = []
        var advancers: [CheckedContinuation<Void, Never>] = []
    }
    private let state = NIOLockedValueBox(State())

    func sleep(_ duration: Duration) async throws {
        try await withCheckedThrowingContinuation { (sleeper: CheckedContinuation<Void, any Error>) in
            let advancers = state.withLockedValue { state in
                state.sleepers.append(sleeper)
                defer { state.advancers = [] }
                return state.advancers
            }
            for advancer in advancers { advancer.resume() }
        }
    }

    /// Waits until something sleeps, then wakes every sleeper.
    func advance() async {
        while true {
            let sleepers = state.withLockedValue { state in
                defer { state.sleepers = [] }
                return state.sleepers
            }
            if !sleepers.isEmpty {
                for sleeper in sleepers { sleeper.resume() }
                return
            }
            await withCheckedContinuation { (advancer: CheckedContinuation<Void, Never>) in
                let ready = state.withLockedValue { state in
                    if !state.sleepers.isEmpty { return true }
                    state.advancers.append(advancer)
                    return false
                }
                if ready { advancer.resume() }
            }
        }
    }
}

extension StreamingEndToEndTests {
    @Test("health Watch reports a required dependency lost and back, at the next probing (a manual clock), and only changes")
    func healthWatchDependency() async throws {
        let down = NIOLockedValueBox(false)
        let sleeps = ManualSleeps()
        let health = HealthService(
            probes: [HealthProbe(name: "Database", isRequired: true) { down.withLockedValue { $0 } ? "unreachable" : nil }],
            sleep: { try await sleeps.sleep($0) })
        try await TestServer.start(services: [health]).scoped { server async throws in
            let client = server.client()
            var statuses = client.health.watch().makeAsyncIterator()
            #expect(try await statuses.next() == HealthCheckResponse(status: .serving))
            await sleeps.advance()  // probed again, unchanged: nothing is sent
            down.withLockedValue { $0 = true }
            await sleeps.advance()
            #expect(try await statuses.next() == HealthCheckResponse(status: .notServing, detail: "Database: unreachable"))
            down.withLockedValue { $0 = false }
            await sleeps.advance()
            #expect(try await statuses.next() == HealthCheckResponse(status: .serving))
            await client.close()
        }
    }
}
