import Foundation
import NIOConcurrencyHelpers
import Testing
import UserRPCClient
import UserRPCTestKit
import UserStorePostgres

/// Three server processes on one PostgreSQL database, one client with all three addresses: one
/// server is stopped (SIGTERM) and started again during a stream of calls, then another is killed
/// (SIGKILL) and started again. No call fails — those that met a stopping or dead server are
/// retried on the others — and no user is registered twice.
@Suite("A fleet of servers and one client")
struct FleetTests {
    /// How many calls the stream has made; the test waits on it instead of on the clock.
    final class Progress: Sendable {
        private let state = NIOLockedValueBox<(calls: Int, failures: [String], stop: Bool)>((0, [], false))
        private let stream = AsyncStream.makeStream(of: Int.self)
        func called(_ failure: String?) {
            let calls = state.withLockedValue { state in
                state.calls += 1
                if let failure { state.failures.append(failure) }
                return state.calls
            }
            stream.continuation.yield(calls)
        }
        var failures: [String] { state.withLockedValue { $0.failures } }
        var stopped: Bool { state.withLockedValue { $0.stop } }
        func stop() { state.withLockedValue { $0.stop = true } }
        /// Waits until `count` calls have been made in all; returns how many have been made.
        @discardableResult
        func wait(until count: Int) async -> Int {
            let now = state.withLockedValue { $0.calls }
            if now >= count { return now }
            for await calls in stream.stream where calls >= count { return calls }
            return state.withLockedValue { $0.calls }
        }
    }

    @Test(
        "servers of a fleet of three stopped, killed and restarted during a stream of calls: none fails, each registration is stored once, the restarted serve again"
    )
    func restartDuringStream() async throws {
        let services = try TestServices.urls()
        let database = try await TestDatabase.create(baseURL: services.database)
        defer { Task { await database.drop() } }
        var environment = ServerProcess.embeddedEnvironment
        environment["DATABASE_URL"] = database.url
        // A loopback address of the fleet's own: while a server is down, no other test's server can
        // be given its port (the client would reach it, and the restart could not bind).
        let host = "127.0.0.40"
        let arguments = ["--host", host, "--grace-period", "2s", "--db-pool-size", "2", "--metrics-port", "0"]
        var servers: [ServerProcess] = []
        var ports: [Int] = []
        for _ in 0..<3 {
            let (server, port) = try await ServerProcess.start(["--port", "0"] + arguments, environment: environment)
            servers.append(server)
            ports.append(port)
        }
        defer { for server in servers { server.killIfRunning() } }

        var configuration = UserRPCClient.Configuration(endpoints: ports.map { .init(host: host, port: $0) })
        configuration.defaultTimeout = .seconds(20)
        configuration.reconnectBackoff = .init(initial: .milliseconds(50), maximum: .milliseconds(400))
        let client = UserRPCClient(configuration: configuration)
        let progress = Progress()
        let registered = NIOLockedValueBox<[String: UUID]>([:])

        // Eight lanes: register (with an idempotency key), read it back, search; until told to stop.
        let stream = Task {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for n in 0..<100_000 where !progress.stopped {
                            let username = "fleet\(lane)n\(n)"
                            do {
                                let user = try await client.registerUser(
                                    username: username, email: "\(username)@example.com", options: CallOptions(idempotencyKey: UUID().uuidString))
                                registered.withLockedValue { $0[username] = user.id }
                                progress.called(nil)
                                guard try await client.getUser(id: user.id) == user else {
                                    throw UserRPCError(code: .internal, message: "wrong user")
                                }
                                progress.called(nil)
                                _ = try await client.searchUsers(username: username)
                                progress.called(nil)
                            } catch {
                                progress.called("\(username): \(error)")
                            }
                        }
                    }
                }
            }
        }

        await progress.wait(until: 300)
        // The middle server stops gracefully (goaway, draining), then starts again on its port.
        servers[1].signal(SIGTERM)
        #expect(try await servers[1].waitForExit() == 0)
        await progress.wait(until: 600)
        let (restarted, _) = try await ServerProcess.start(["--port", "\(ports[1])"] + arguments, environment: environment)
        servers.append(restarted)
        // The stream goes on until the restarted server has answered some of its calls (it is back
        // in rotation), bounded by a number of calls.
        var servedByRestarted = 0.0
        for target in stride(from: 700, through: 50_000, by: 100) where servedByRestarted < 20 {
            await progress.wait(until: target)
            let (_, body) = try await httpRequest(host: host, port: restarted.metricsPort!, path: "/metrics")
            servedByRestarted = prometheusSamples(body).filter { $0.key.hasPrefix("user_rpc_calls_total{") }.values.reduce(0, +)
        }
        #expect(servedByRestarted >= 20, "the restarted server is back in rotation")

        // Another one is killed outright (SIGKILL) in the middle of calls: registrations it had
        // committed but not answered are retried elsewhere with their keys, and answered with the
        // user they registered, not a second one.
        let calls = await progress.wait(until: 0)
        servers[2].signal(SIGKILL)
        _ = try await servers[2].waitForExit()
        await progress.wait(until: calls + 600)
        let (revived, _) = try await ServerProcess.start(["--port", "\(ports[2])"] + arguments, environment: environment)
        servers.append(revived)
        await progress.wait(until: calls + 1_200)
        progress.stop()
        await stream.value
        await client.close()

        #expect(progress.failures.isEmpty, "\(progress.failures.prefix(5))")
        // Each registration once: the database holds exactly the users the stream was answered with.
        let stored = try await blocking {
            try database.connect().execute("SELECT username, id FROM users").rows.map { ($0[0]!, $0[1]!) }
        }
        let answered = registered.withLockedValue { $0 }
        #expect(stored.count == answered.count)
        #expect(Set(stored.map(\.0)) == Set(answered.keys))
        for (username, id) in stored { #expect(answered[username]?.uuidString.lowercased() == id, "\(username)") }

        for server in [servers[0], restarted, revived] { server.signal(SIGTERM) }
        for server in [servers[0], restarted, revived] { #expect(try await server.waitForExit() == 0) }
    }
}
