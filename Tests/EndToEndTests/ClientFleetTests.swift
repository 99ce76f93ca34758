import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserV1

@testable import UserRPCClient

/// The client across several servers and its retries, against in-process servers sharing one
/// store. (The fleet of real server processes, one restarted during a stream of calls, is in
/// `FleetTests`.)
@Suite("Client: several servers, retries")
struct ClientFleetTests {
    /// Counts the calls a server sees, by method; refuses the first `failures` of them UNAVAILABLE
    /// (as a server that is shutting down, or cut off from its database, answers).
    final class CallCounter: ServerInterceptor {
        private let state: NIOLockedValueBox<(seen: [String], failuresLeft: Int)>
        init(failures: Int = 0) { state = NIOLockedValueBox(([], failures)) }
        func willRun(_ context: inout ServerContext) -> RPCError? {
            let refuse = state.withLockedValue { state in
                state.seen.append(String(context.method.split(separator: "/").last!))
                guard state.failuresLeft > 0 else { return false }
                state.failuresLeft -= 1
                return true
            }
            return refuse ? RPCError(code: .unavailable, message: "try again") : nil
        }
        var seen: [String] { state.withLockedValue { $0.seen } }
        func refuse(next count: Int) { state.withLockedValue { $0.failuresLeft = count } }
    }

    static func client(_ ports: [Int], configure: (inout UserRPCClient.Configuration) -> Void = { _ in }) -> UserRPCClient {
        var configuration = UserRPCClient.Configuration(endpoints: ports.map { .init(host: "127.0.0.1", port: $0) })
        configuration.defaultTimeout = .seconds(10)
        configure(&configuration)
        return UserRPCClient(configuration: configuration)
    }

    @Test("calls go round robin across the servers")
    func roundRobin() async throws {
        let repository = UserRepository(store: InMemoryUserStore())
        let counters = [CallCounter(), CallCounter(), CallCounter()]
        try await withTestServers(
            counters.count, start: { try await TestServer.start(repository: repository, interceptors: [counters[$0]]) },
            body: { servers in
                let client = Self.client(servers.map(\.port))
                let user = try await client.registerUser(username: "spread", email: "spread@example.com")
                for _ in 0..<29 { #expect(try await client.getUser(id: user.id) == user) }
                #expect(counters.map(\.seen.count) == [10, 10, 10], "\(counters.map(\.seen))")
                await client.close()
            })
    }

    @Test("a server that does not accept connections leaves rotation without failing a call, and comes back once it listens again")
    func deadServerLeavesRotation() async throws {
        let repository = UserRepository(store: InMemoryUserStore())
        let live = CallCounter()
        try await TestServer.start(repository: repository, interceptors: [live]).scoped { server in
            // A port nothing listens on any more, on a loopback address no other test uses (so no other
            // test's server can be given that port meanwhile).
            let host = "127.0.0.38"
            let deadPort = try await TestServer.start { $0.host = host }.scoped { gone in gone.port }
            var configuration = UserRPCClient.Configuration(endpoints: [
                .init(host: host, port: deadPort), .init(host: "127.0.0.1", port: server.port),
            ])
            configuration.defaultTimeout = .seconds(10)
            configuration.reconnectBackoff = .init(initial: .milliseconds(20), maximum: .milliseconds(20))
            let logs = CapturedLogs()
            let client = UserRPCClient(configuration: configuration, logger: logs.logger())
            let user = try await client.registerUser(username: "survivor", email: "survivor@example.com")
            for _ in 0..<20 { #expect(try await client.getUser(id: user.id) == user) }
            #expect(live.seen.count == 21, "every call answered by the live server")
            // The client's logger says which server left rotation, and why.
            #expect(
                logs.all.contains { $0.hasPrefix("warning cannot connect") && $0.contains("\(host):\(deadPort)") && $0.contains("refused") },
                "\(logs.all)")

            // The server is back on its port: once its time out of rotation is over, it gets calls again.
            let revived = CallCounter()
            try await TestServer.start(repository: repository, interceptors: [revived]) {
                $0.host = host
                $0.port = deadPort
            }.scoped { _ async throws in
                let deadline = ContinuousClock.now + .seconds(30)
                while revived.seen.isEmpty, ContinuousClock.now < deadline { #expect(try await client.getUser(id: user.id) == user) }
                #expect(!revived.seen.isEmpty)
                await client.close()
            }
        }
    }

    @Test("reads are retried after UNAVAILABLE; RegisterUser only with an idempotency key, and then registers once")
    func retriesOnlyWhatIsSafe() async throws {
        let counter = CallCounter()
        try await TestServer.start(interceptors: [counter]).scoped { server in
            let client = Self.client([server.port])

            counter.refuse(next: 2)
            await #expect {
                _ = try await client.registerUser(username: "unkeyed", email: "unkeyed@example.com")
            } throws: { ($0 as? UserRPCError)?.code == .unavailable }
            #expect(counter.seen == ["RegisterUser"], "sent once: without a key it may not be repeated")

            let key = UUID().uuidString
            let user = try await client.registerUser(username: "keyed", email: "keyed@example.com", options: CallOptions(idempotencyKey: key))
            #expect(counter.seen.filter { $0 == "RegisterUser" }.count == 3, "refused once more, then answered")

            counter.refuse(next: 3)
            #expect(try await client.getUser(id: user.id) == user)
            #expect(try await client.searchUsers(username: "keyed").users == [user])
            #expect(counter.seen.suffix(5) == ["GetUser", "GetUser", "GetUser", "GetUser", "SearchUsers"])

            // Not retried either: an answer that is not UNAVAILABLE.
            let before = counter.seen.count
            await #expect(throws: UserRPCError.self) { _ = try await client.getUser(id: UUID()) }
            #expect(counter.seen.count == before + 1)
            await client.close()
        }
    }

    @Test("the retry budget: after repeated failures the client stops retrying, and retries again after successes")
    func budget() async throws {
        let counter = CallCounter()
        try await TestServer.start(interceptors: [counter]).scoped { server in
            let client = Self.client([server.port]) {
                $0.retry?.backoff = .init(initial: .milliseconds(1), maximum: .milliseconds(1))
                $0.retry?.budgetTokens = 10
            }
            let user = try await client.registerUser(username: "budget", email: "budget@example.com")
            let before = counter.seen.count
            counter.refuse(next: 1_000)
            // 10 tokens: the first call makes its 4 attempts (10 → 6); then retries need more than 5.
            for _ in 0..<3 { await #expect(throws: UserRPCError.self) { _ = try await client.getUser(id: user.id) } }
            #expect(counter.seen.count - before == 4 + 1 + 1)
            counter.refuse(next: 0)
            // 4 tokens now; each success gives back 0.1: after 30, 7, so that one failure leaves more than 5.
            for _ in 0..<30 { _ = try await client.getUser(id: user.id) }
            counter.refuse(next: 1)
            #expect(try await client.getUser(id: user.id) == user, "retried once the budget has recovered")
            await client.close()
        }
    }

    @Test("a name that resolves to several addresses gives one endpoint each; a name that does not resolve is UNAVAILABLE")
    func resolvedName() async throws {
        try await withTestServer { server in
            let endpoints = try await UserRPCClient.Endpoint.resolve("localhost", port: server.port)
            #expect(endpoints.contains(.init(host: "127.0.0.1", port: server.port)), "\(endpoints)")
            #expect(Set(endpoints).count == endpoints.count, "no address twice")
            #expect(try await UserRPCClient.Endpoint.resolve("127.0.0.1", port: 7) == [.init(host: "127.0.0.1", port: 7)])
            let client = UserRPCClient(configuration: .init(endpoints: endpoints))
            let user = try await client.registerUser(username: "resolved", email: "resolved@example.com")
            #expect(try await client.getUser(id: user.id) == user)
            await client.close()
            await #expect {
                _ = try await UserRPCClient.Endpoint.resolve("no-such-host.invalid", port: 1)
            } throws: { ($0 as? UserRPCError)?.code == .unavailable }
        }
    }

    @Test("retries stay within the call's deadline, and the backoff doubles with full jitter")
    func retryTiming() {
        #expect(UserRPCClient.retryTimeout(timeout: .seconds(1), elapsed: .milliseconds(300), delay: .milliseconds(200)) == .some(.milliseconds(500)))
        #expect(UserRPCClient.retryTimeout(timeout: .seconds(1), elapsed: .milliseconds(900), delay: .milliseconds(200)) == nil)
        #expect(UserRPCClient.retryTimeout(timeout: nil, elapsed: .seconds(100), delay: .seconds(1)) == .some(nil))
        let policy = UserRPCClient.RetryPolicy()
        #expect(policy.delay(afterAttempt: 1, random: 0.5) == .milliseconds(25))
        #expect(policy.delay(afterAttempt: 3, random: 0.999_999) < .milliseconds(200))
        #expect(policy.delay(afterAttempt: 20, random: 1) == .seconds(1), "capped")
        #expect(UserRPCClient.Backoff(initial: .milliseconds(100), maximum: .seconds(5)).delay(afterFailures: 4) == .milliseconds(800))
        #expect(UserRPCClient.Endpoint("10.0.0.1:50051") == .init(host: "10.0.0.1", port: 50051))
        #expect(UserRPCClient.Endpoint("[::1]:7") == .init(host: "::1", port: 7))
        #expect(UserRPCClient.Endpoint("nohost") == nil && UserRPCClient.Endpoint("h:0") == nil && UserRPCClient.Endpoint(":80") == nil)
    }
}
