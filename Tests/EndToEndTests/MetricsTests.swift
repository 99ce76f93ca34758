import Foundation
import StrictJSON
import Testing
import UserRPCClient
import UserRPCTestKit

/// The Prometheus endpoint of the server binary (`--metrics-port`): what it counts, scraped over HTTP
/// as Prometheus would.
@Suite("Metrics endpoint (the server binary)")
struct MetricsTests {
    /// The server and its metrics port, read from the start-up log.
    static func start(_ arguments: [String], environment: [String: String] = ServerProcess.embeddedEnvironment) async throws -> (
        server: ServerProcess, port: Int, metricsPort: Int
    ) {
        let (server, port) = try await ServerProcess.start(["--port", "0", "--metrics-port", "0"] + arguments, environment: environment)
        guard let metricsPort = server.metricsPort else {
            server.killIfRunning()
            Issue.record("no metrics endpoint in the log before the RPC port: \(server.log)")
            throw CancellationError()
        }
        return (server, port, metricsPort)
    }

    static func scrape(_ port: Int) async throws -> [String: Double] {
        let (status, body) = try await httpRequest(port: port, path: "/metrics")
        #expect(status == 200)
        return prometheusSamples(body)
    }

    static func client(port: Int) -> UserRPCClient {
        UserRPCClient(configuration: .init(host: "127.0.0.1", port: port))
    }

    @Test("calls by method and code, latency, calls in flight, connections and rejected frames, on GET /metrics")
    func callsAndFrames() async throws {
        let (server, port, metricsPort) = try await Self.start(["--in-memory"])
        defer { server.killIfRunning() }
        let client = Self.client(port: port)
        let user = try await client.registerUser(username: "metered", email: "metered@example.com")
        _ = try await client.getUser(id: user.id)
        _ = try await client.getUser(id: user.id)
        await #expect(throws: UserRPCError.self) { _ = try await client.getUser(id: UUID()) }
        // A made-up method is counted under `unknown`: clients cannot add series.
        await #expect(throws: UserRPCError.self) { _ = try await client.call(method: "user.v1.UserService/MadeUp", payload: [:]) }

        // An envelope the server answers INVALID_ARGUMENT, a malformed ping it drops, then a frame
        // over the limit that closes the connection.
        let raw = try await RawConnection.connect(port: port)
        try await raw.send(#"{"type":"request","id":7,"method":"user.v1.UserService/GetUser","payload":{},"extra":1}"#)
        #expect(try await raw.expectFrame().statusCode == "INVALID_ARGUMENT")
        try await raw.send(#"{"type":"ping","id":5,"extra":1}"#)
        try await raw.sendBytes([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(try await raw.expectClosed())

        let samples = try await Self.scrape(metricsPort)
        let getUser = "method=\"user.v1.UserService/GetUser\""
        #expect(samples["user_rpc_calls_total{\(getUser),code=\"OK\"}"] == 2)
        #expect(samples["user_rpc_calls_total{\(getUser),code=\"NOT_FOUND\"}"] == 1)
        #expect(samples["user_rpc_calls_total{method=\"user.v1.UserService/RegisterUser\",code=\"OK\"}"] == 1)
        #expect(samples["user_rpc_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"}"] == 1)
        #expect(samples["user_rpc_calls_total{method=\"unknown\",code=\"INVALID_ARGUMENT\"}"] == 1, "the envelope answer")
        #expect(samples.keys.contains { $0.contains("MadeUp") } == false)
        #expect(samples["user_rpc_call_duration_seconds_count{\(getUser)}"] == 3)
        #expect(samples["user_rpc_call_duration_seconds_bucket{\(getUser),le=\"+Inf\"}"] == 3)
        #expect((samples["user_rpc_call_duration_seconds_sum{\(getUser)}"] ?? 0) > 0)
        #expect(samples["user_rpc_calls_in_flight"] == 0)
        #expect(samples["user_rpc_frames_rejected_total{reason=\"invalid_envelope\"}"] == 1)
        #expect(samples["user_rpc_frames_rejected_total{reason=\"malformed_control\"}"] == 1)
        #expect(samples["user_rpc_frames_rejected_total{reason=\"too_large\"}"] == 1)
        #expect(samples["user_rpc_frames_rejected_total{reason=\"unreadable\"}"] == 0)
        // The typed client's connection and the raw one.
        #expect(samples["user_rpc_connections_total"] == 2)
        // The raw connection's close is counted just after its FIN leaves: scrape again (bounded) until it is.
        var open = samples["user_rpc_connections_open"]
        for _ in 0..<100 where open != 1 { open = try await Self.scrape(metricsPort)["user_rpc_connections_open"] }
        #expect(open == 1, "the client's connection is still open, the raw one is not")

        // Only /metrics, only GET (or HEAD).
        #expect(try await httpRequest(port: metricsPort, path: "/other").status == 404)
        #expect(try await httpRequest(port: metricsPort, method: "POST", path: "/metrics").status == 405)

        await client.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }

    @Test("on PostgreSQL and Redis: cache hits, misses and the store pool (size, connections in use, wait)")
    func storeAndCache() async throws {
        let services = try TestServices.urls()
        let database = try await TestDatabase.create(baseURL: services.database)
        defer { Task { await database.drop() } }
        var environment = ServerProcess.embeddedEnvironment
        environment["DATABASE_URL"] = database.url
        environment["REDIS_URL"] = services.redis
        let (server, port, metricsPort) = try await Self.start(["--db-pool-size", "3"], environment: environment)
        defer { server.killIfRunning() }
        let client = Self.client(port: port)
        let user = try await client.registerUser(username: "cached", email: "cached@example.com")
        // Registration primes the cache: a hit. An unknown id: a miss, then the store says NOT_FOUND.
        _ = try await client.getUser(id: user.id)
        await #expect(throws: UserRPCError.self) { _ = try await client.getUser(id: UUID()) }

        let samples = try await Self.scrape(metricsPort)
        #expect(samples["user_rpc_cache_lookups_total{result=\"hit\"}"] == 1)
        #expect(samples["user_rpc_cache_lookups_total{result=\"miss\"}"] == 1)
        #expect(samples["user_rpc_cache_lookups_total{result=\"unavailable\"}"] == 0)
        #expect(samples["user_rpc_store_pool_size"] == 3)
        let inUse = samples["user_rpc_store_pool_connections_in_use"] ?? -1
        #expect(inUse >= 0 && inUse <= 3)
        // The registration and the miss's read each waited for a pool thread.
        #expect((samples["user_rpc_store_pool_wait_seconds_count"] ?? 0) >= 2)
        #expect(samples["user_rpc_calls_total{method=\"user.v1.UserService/GetUser\",code=\"NOT_FOUND\"}"] == 1)

        await client.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }
}
