import Foundation
import StrictJSON
import Testing
import UserRPCClient
import UserRPCTestKit

/// `user.v2` beside `user.v1`, on both backends: users that change and leave, versions, and the two
/// versions reading the same users.
@Suite("user.v2")
struct UserV2Tests {
    @Test("register, get, update, delete: versions, times, and every documented error", arguments: Backend.allCases)
    func lifecycle(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let ada = try await client.v2.registerUser(username: "Ada", email: "ada@example.com")
            #expect(ada.version == 1)
            #expect(ada.updatedAt == ada.createdAt)
            #expect(try await client.v2.getUser(id: ada.id) == ada)

            // A change: the version goes up, updated_at moves, the rest stays.
            let changed = try await client.v2.updateUser(id: ada.id, email: "ada@lovelace.org", expectedVersion: 1)
            #expect(changed.version == 2 && changed.email == "ada@lovelace.org" && changed.username == "Ada")
            #expect(changed.createdAt == ada.createdAt && changed.updatedAt >= ada.createdAt)
            // A change that changes nothing answers the user as it is.
            #expect(try await client.v2.updateUser(id: ada.id, username: "Ada", email: "ada@lovelace.org") == changed)
            // Case is a change: stored as given.
            let recased = try await client.v2.updateUser(id: ada.id, username: "ADA")
            #expect(recased.version == 3 && recased.username == "ADA")

            // A lost test-and-set: ABORTED with the current version.
            let stale = await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: ada.id, username: "ada2", expectedVersion: 1) }
            #expect(stale?.code == .aborted)
            #expect(stale?.currentVersion == 3)
            // Validation as for registration; at least one field.
            let nothing = await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: ada.id) }
            #expect(nothing?.code == .invalidArgument && nothing?.fieldViolations.map(\.field) == ["username"])
            let bad = await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: ada.id, username: "_x", email: "nope") }
            #expect(bad?.fieldViolations.map(\.field) == ["username", "email"])
            // Uniqueness, case-insensitively, naming the field.
            let bob = try await client.v2.registerUser(username: "bob", email: "bob@example.com")
            let taken = await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: bob.id, email: "ADA@LOVELACE.ORG") }
            #expect(taken?.code == .alreadyExists && taken?.conflictingField == "email")
            let takenName = await #expect(throws: UserRPCError.self) { try await client.v2.updateUser(id: bob.id, username: "ada") }
            #expect(takenName?.conflictingField == "username")
            // Unknown ids.
            let missing = UUID(uuidString: "00000000-0000-7000-8000-000000000001")!
            #expect(await (try? client.v2.updateUser(id: missing, username: "zed")) == nil)
            let notFound = await #expect(throws: UserRPCError.self) { try await client.v2.deleteUser(id: missing) }
            #expect(notFound?.code == .notFound)

            // Delete: a lost test-and-set first, then the deletion.
            let staleDelete = await #expect(throws: UserRPCError.self) { try await client.v2.deleteUser(id: ada.id, expectedVersion: 2) }
            #expect(staleDelete?.code == .aborted && staleDelete?.currentVersion == 3)
            try await client.v2.deleteUser(id: ada.id, expectedVersion: 3)
            // Gone in both versions, and its names are free at once.
            #expect(await #expect(throws: UserRPCError.self) { try await client.v2.getUser(id: ada.id) }?.code == .notFound)
            #expect(await #expect(throws: UserRPCError.self) { try await client.getUser(id: ada.id) }?.code == .notFound)
            let again = try await client.v2.registerUser(username: "ada", email: "ada@lovelace.org")
            #expect(again.id != ada.id && again.version == 1)
            await client.close()
        }
    }

    @Test("v1 and v2 read the same users; v1's answers keep exactly the v1 shape", arguments: Backend.allCases)
    func versionsSideBySide(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let grace = try await client.registerUser(username: "grace", email: "grace@example.com")
            // Changed through v2, seen changed through v1.
            _ = try await client.v2.updateUser(id: grace.id, email: "grace@navy.mil")
            #expect(try await client.getUser(id: grace.id).email == "grace@navy.mil")
            #expect(try await client.searchUsers(email: "GRACE@navy.mil").users.map(\.id) == [grace.id])
            // v1's keys, byte for byte, in order: no updated_at, no version.
            let connection = try await server.rawConnection()
            try await connection.send(
                #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","metadata":{"x-request-id":"v1-shape"},"payload":{"id":"\#(grace.id.lowercasedText)"}}"#
            )
            let body = try #require(try await connection.nextBody())
            let text = String(decoding: body, as: UTF8.self)
            let expected =
                #"{"type":"response","id":1,"metadata":{"x-request-id":"v1-shape"},"status":{"code":"OK","message":""},"payload":{"id":"\#(grace.id.lowercasedText)","username":"grace","email":"grace@navy.mil","created_at":"\#(RFC3339.format(grace.createdAt))"}}"#
            #expect(text == expected)
            // v2's keys.
            try await connection.send(
                #"{"type":"request","id":2,"method":"user.v2.UserService/GetUser","payload":{"id":"\#(grace.id.lowercasedText)"}}"#)
            let v2 = try #require(try await connection.expectFrame().payload)
            #expect(v2.keys == ["id", "username", "email", "created_at", "updated_at", "version"])
            #expect(v2["version"] == 2)
            // Deleted through v2: NOT_FOUND through v1.
            try await client.v2.deleteUser(id: grace.id)
            #expect(await #expect(throws: UserRPCError.self) { try await client.getUser(id: grace.id) }?.code == .notFound)
            #expect(try await client.searchUsers(username: "grace").users.isEmpty)
            await connection.close()
            await client.close()
        }
    }

    @Test("races: of 50 updates to one new username exactly one wins; of 20 test-and-sets on one version exactly one", arguments: Backend.allCases)
    func races(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            var users: [UserServiceV2.User] = []
            for i in 0..<50 { users.append(try await client.v2.registerUser(username: "racer\(i)", email: "racer\(i)@example.com")) }
            let winners = await withTaskGroup(of: Bool.self) { group in
                for user in users {
                    group.addTask { (try? await client.v2.updateUser(id: user.id, username: "Champion")) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
            #expect(try await client.v2.searchUsers(username: "champion").users.count == 1)

            let target = users[0]
            let current = try await client.v2.getUser(id: target.id)
            let outcomes = await withTaskGroup(of: RPCError.Code?.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        do throws(UserRPCError) {
                            _ = try await client.v2.updateUser(id: target.id, email: "set\(i)@example.com", expectedVersion: current.version)
                            return nil
                        } catch {
                            return error.code
                        }
                    }
                }
                return await group.reduce(into: [RPCError.Code?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .aborted }.count == 19)
            #expect(try await client.v2.getUser(id: target.id).version == current.version + 1)

            // Update against delete: the delete always wins in the end; the update either happened first
            // or finds nothing.
            let victim = users[1]
            async let update: Result<UserServiceV2.User, UserRPCError> = {
                do throws(UserRPCError) { return .success(try await client.v2.updateUser(id: victim.id, email: "last@example.com")) } catch {
                    return .failure(error)
                }
            }()
            async let delete: UserServiceV2.DeleteUserResponse? = try? await client.v2.deleteUser(id: victim.id)
            let (updated, deleted): (Result<UserServiceV2.User, UserRPCError>, UserServiceV2.DeleteUserResponse?) = await (update, delete)
            #expect(deleted != nil)
            if case .failure(let error) = updated { #expect(error.code == .notFound) }
            #expect(await #expect(throws: UserRPCError.self) { try await client.v2.getUser(id: victim.id) }?.code == .notFound)
            // Its names are free again.
            _ = try await client.v2.registerUser(username: victim.username, email: "last@example.com")
            await client.close()
        }
    }
}
