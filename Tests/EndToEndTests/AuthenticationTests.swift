import StrictJSON
import Testing
import UserCore
import UserRPCClient
import UserRPCServer
import UserRPCTestKit

@Suite("Bearer-token authentication")
struct AuthenticationTests {
    static let token = "t0ken-Zq8Kx3-never-logged"

    @Test("calls without a valid token get UNAUTHENTICATED; with one they succeed; tokens never reach the logs")
    func tokens() async throws {
        let logs = CapturedLogs()
        try await TestServer.start(logger: logs.logger()) { $0.authTokens = ["other-token", Self.token] }.scoped { server in
            let anonymous = server.client()
            let missing = await #expect(throws: UserRPCError.self) { try await anonymous.searchUsers() }
            #expect(missing?.code == .unauthenticated)

            var wrongConfiguration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            wrongConfiguration.bearerToken = Self.token + "x"
            let wrong = UserRPCClient(configuration: wrongConfiguration)
            let rejected = await #expect(throws: UserRPCError.self) { try await wrong.searchUsers() }
            #expect(rejected?.code == .unauthenticated)
            let malformed = await #expect(throws: UserRPCError.self) {
                try await anonymous.call(
                    method: "user.v1.UserService/SearchUsers", payload: JSONObject(), options: .init(metadata: ["authorization": Self.token]))
            }
            #expect(malformed?.code == .unauthenticated)

            var goodConfiguration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            goodConfiguration.bearerToken = Self.token
            let good = UserRPCClient(configuration: goodConfiguration)
            let user = try await good.registerUser(username: "authorized", email: "authorized@example.com")
            #expect(try await good.getUser(id: user.id) == user)
            try await anonymous.ping()  // pings are not calls

            for client in [anonymous, wrong, good] { await client.close() }
        }
        let logged = logs.all.joined(separator: "\n")
        #expect(logged.contains("UNAUTHENTICATED"))
        #expect(!logged.contains(Self.token))
        #expect(!logged.contains("authorized@example.com"), "emails are not logged at info level")
    }

    @Test("methods configured as open need no token")
    func openMethods() async throws {
        try await TestServer.start {
            $0.authTokens = [Self.token]
            $0.unauthenticatedMethods = ["user.v1.UserService/SearchUsers"]
        }.scoped { server async throws in
            let anonymous = server.client()
            #expect(try await anonymous.searchUsers().users.isEmpty)
            let closed = await #expect(throws: UserRPCError.self) { try await anonymous.registerUser(username: "nope", email: "nope@example.com") }
            #expect(closed?.code == .unauthenticated)
            await anonymous.close()
        }
    }
}
