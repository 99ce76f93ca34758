import Foundation
import StrictJSON
import Testing
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserV1

/// A newer server may add optional fields to its responses: clients built for the schema they know
/// keep working. (The server stays strict about requests.)
@Suite("Compatibility with newer servers")
struct CompatibilityTests {
    /// `user.v1.User` as a newer server might send it: one more field, and a nested one.
    struct NewerUser: RPCMessage {
        static let messageName = "User"
        var user: UserV1.User
        var nickname: String
        init(user: UserV1.User, nickname: String) {
            self.user = user
            self.nickname = nickname
        }
        init(fields: inout some MessageFieldReader) {
            user = UserV1.User(fields: &fields)
            nickname = fields.required("nickname", as: String.self)
        }
        func write(fields: inout MessageFieldWriter) {
            user.write(fields: &fields)
            fields.field("nickname", nickname)
            fields.field("profile", json: ["langs": ["swift", "c"], "since": 1843])
        }
    }

    /// `user.v1.UserService` whose GetUser answers a `NewerUser`.
    struct NewerUserService: RPCService {
        static let ada = UserV1.User(
            id: UUID(uuidString: "0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60")!, username: "ada", email: "ada@example.com",
            createdAt: Date(timeIntervalSince1970: 1_795_000_000.123))
        var schema: ServiceSchema { UserServiceV1.schema }
        func registerMethods(with router: inout RPCRouter) {
            router.register(MethodDescriptor<GetUserRequest, NewerUser>(service: UserServiceV1.name, name: "GetUser", idempotency: .noSideEffects)) {
                _, _ in
                .ok(NewerUser(user: Self.ada, nickname: "Countess"))
            }
            router.register(UserServiceV1.registerUser) { _, _ in .failed(RPCError(code: .unavailable, message: "read-only")) }
            router.register(UserServiceV1.searchUsers) { _, _ in .ok(SearchUsersResponse(users: [])) }
        }
    }

    @Test("today's typed client reads a User that carries fields it does not know, single and pipelined")
    func clientIgnoresNewFields() async throws {
        try await TestServer.start(services: [NewerUserService()]).scoped { server in
            let client = server.client()
            #expect(try await client.getUser(id: NewerUserService.ada.id) == NewerUserService.ada)
            let answers = await client.callPipelined(UserServiceV1.getUser, (0..<20).map { _ in GetUserRequest(id: NewerUserService.ada.id) })
            #expect(try answers.map { try $0.result.get() } == Array(repeating: NewerUserService.ada, count: 20))
            // By name, the whole payload is there (as the CLI prints it).
            let raw = try await client.call(method: "GetUser", payload: ["id": "0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60"])
            #expect(raw["nickname"] == "Countess")
            #expect(raw["profile"]?.objectValue?["since"] == 1843)
            await client.close()
        }
    }

    @Test("the server stays strict: an unknown request field is INVALID_ARGUMENT naming it")
    func serverStaysStrict() async throws {
        try await withTestServer { server in
            let client = server.client()
            let error = await #expect(throws: UserRPCError.self) {
                try await client.call(method: "GetUser", payload: ["id": "0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60", "nickname": "x"])
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fieldViolations == [FieldViolation(field: "nickname", description: "unknown field")])
            await client.close()
        }
    }
}
