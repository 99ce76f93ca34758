import Foundation
import HealthV1
import Testing
import UserCore
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserService

/// `health.v1.Health/Check` as probes and load balancers meet it: on every backend, with tokens
/// on, during a graceful shutdown, and with a dependency down (the fault tests stop PostgreSQL and
/// Redis for real; here a probe stands in for one).
@Suite("Health checking")
struct HealthTests {
    @Test(
        "every server hosts health.v1.Health: SERVING for itself and each service it hosts, UNKNOWN_SERVICE for any other",
        arguments: Backend.allCases)
    func serving(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let whole = try await client.checkHealth()
            #expect(whole == HealthCheckResponse(status: .serving), "\(whole)")
            for service in ["user.v1.UserService", "user.v2.UserService", "health.v1.Health", ""] {
                #expect(try await client.checkHealth(service: service).status == .serving, "\(service)")
            }
            let unknown = try await client.checkHealth(service: "user.v3.UserService")
            #expect(unknown.status == .unknownService)
            #expect(unknown.detail?.contains("user.v3.UserService") == true)
            await client.close()
        }
    }

    @Test("a server given no health service hosts its own")
    func hostedByDefault() async throws {
        try await TestServer.start(services: [
            UserServiceV1Provider(operations: UserOperations(repository: .init(store: InMemoryUserStore())))
        ]).scoped { server async throws in
            #expect(server.server.methodNames.contains("health.v1.Health/Check"))
            let client = server.client()
            #expect(try await client.checkHealth().status == .serving)
            #expect(try await client.checkHealth(service: "user.v2.UserService").status == .unknownService, "v2 is not hosted here")
            await client.close()
        }
    }

    @Test("with bearer tokens on, health needs none; every other service still does")
    func noTokenNeeded() async throws {
        try await TestServer.start { $0.authTokens = ["s3cret"] }.scoped { server async throws in
            let client = server.client()
            #expect(try await client.checkHealth().status == .serving)
            let refused = await #expect(throws: UserRPCError.self) { try await client.searchUsers() }
            #expect(refused?.code == .unauthenticated)
            await client.close()
        }
    }

    @Test("a required dependency down is NOT_SERVING naming it; an optional one down is SERVING with a detail")
    func probes() async throws {
        let repository = UserRepository(store: InMemoryUserStore())
        let operations = UserOperations(repository: repository)
        let databaseDown = HealthProbe(name: "database", isRequired: true) { "connection refused" }
        let cacheDown = HealthProbe(name: "cache", isRequired: false) { "unreachable" }
        let healthy = HealthProbe(name: "other", isRequired: true) { nil }
        for (probes, status, detail) in [
            ([healthy, cacheDown], ServingStatus.serving, "cache: unreachable"),
            ([databaseDown, healthy, cacheDown], .notServing, "database: connection refused; cache: unreachable"),
            ([healthy], .serving, nil),
        ] {
            try await TestServer.start(
                repository: repository, services: [UserServiceV1Provider(operations: operations), HealthService(probes: probes)]
            ).scoped { server async throws in
                let client = server.client()
                let answer = try await client.checkHealth()
                #expect(answer.status == status)
                #expect(answer.detail == detail)
                #expect(try await client.checkHealth(service: "user.v1.UserService").status == status)
                await client.close()
            }
        }
    }

    @Test("from the moment a graceful shutdown begins, health is NOT_SERVING while the drain delay keeps everything else served")
    func drainDelay() async throws {
        try await TestServer.start { $0.shutdownDrainDelay = .seconds(600) }.scoped { server in
            let client = server.client()
            let user = try await client.registerUser(username: "draining", email: "draining@example.com")
            server.server.beginGracefulShutdown()
            let answer = try await client.checkHealth()
            #expect(answer.status == .notServing)
            #expect(answer.detail == "the server is shutting down")
            // Calls are still served, on open connections and new ones.
            #expect(try await client.getUser(id: user.id) == user)
            let newcomer = server.client()
            #expect(try await newcomer.getUser(id: user.id) == user)
            #expect(try await newcomer.checkHealth(service: "user.v1.UserService").status == .notServing)
            // Asked again, the server skips the rest of the delay and stops.
            server.server.beginGracefulShutdown()
            try await withTimeout(seconds: 60) { try await server.waitUntilStopped() }
            await client.close()
            await newcomer.close()
        }
    }
}
