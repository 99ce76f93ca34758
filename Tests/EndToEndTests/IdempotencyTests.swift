import Foundation
import Testing
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserV2

/// RegisterUser with an `idempotency-key` (PROTOCOL.md section 5.2): a repeat answers the user the
/// first one registered, on every backend; the key lives in the store (the user's id is derived
/// from it), so servers sharing a store agree (the fleet test shows that across three servers).
@Suite("Idempotent registration")
struct IdempotencyTests {
    static func keyed(_ key: String) -> CallOptions {
        CallOptions(metadata: ["idempotency-key": key])
    }

    @Test("a repeated key answers the first registration; another registration under it is FAILED_PRECONDITION", arguments: Backend.allCases)
    func repeatedKey(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let key = UUID().uuidString
            let tag = "\(backend)".replacingOccurrences(of: "+", with: "-")
            let first = try await client.registerUser(username: "once-\(tag)", email: "once-\(tag)@example.com", options: Self.keyed(key))
            #expect(first.id == UserRegistrationLogic.userID(idempotencyKey: key), "the id is the key's")
            // The retry of a registration whose answer was lost: the same user, not ALREADY_EXISTS.
            let again = try await client.registerUser(username: "once-\(tag)", email: "once-\(tag)@example.com", options: Self.keyed(key))
            #expect(again == first)
            // Through user.v2 too, and concurrently: one user, every answer the same.
            let answers = await client.callPipelined(
                UserServiceV2.registerUser,
                Array(repeating: UserServiceV2.RegisterUserRequest(username: "once-\(tag)", email: "once-\(tag)@example.com"), count: 8),
                options: Self.keyed(key))
            #expect(answers.allSatisfy { (try? $0.result.get())?.id == first.id }, "\(answers.map(\.result))")
            #expect(try await client.searchUsers(username: "once-\(tag)").users.count == 1)

            // The same key for a different registration: refused, nothing registered.
            await #expect {
                _ = try await client.registerUser(username: "other-\(tag)", email: "other-\(tag)@example.com", options: Self.keyed(key))
            } throws: { ($0 as? UserRPCError)?.code == .failedPrecondition }
            #expect(try await client.searchUsers(username: "other-\(tag)").users.isEmpty)

            // Without a key, the usual conflict.
            await #expect {
                _ = try await client.registerUser(username: "once-\(tag)", email: "once-\(tag)@example.com")
            } throws: { ($0 as? UserRPCError)?.code == .alreadyExists }
            // A fresh key after a conflict with someone else's username is that conflict, not a repeat.
            await #expect {
                _ = try await client.registerUser(username: "once-\(tag)", email: "x-\(tag)@example.com", options: Self.keyed(UUID().uuidString))
            } throws: { ($0 as? UserRPCError)?.code == .alreadyExists }
            await client.close()
        }
    }

    @Test("a key that is empty, too long or not printable ASCII is INVALID_ARGUMENT naming metadata.idempotency-key")
    func badKeys() async throws {
        try await withTestServer(backend: .embedded) { server async throws in
            let client = server.client()
            for key in ["", String(repeating: "k", count: 129), "has space", "clé"] {
                await #expect {
                    _ = try await client.registerUser(username: "badkey", email: "badkey@example.com", options: Self.keyed(key))
                } throws: { error in
                    guard let error = error as? UserRPCError, error.code == .invalidArgument else { return false }
                    return error.fieldViolations.map(\.field) == ["metadata.idempotency-key"]
                }
            }
            #expect(try await client.searchUsers(username: "badkey").users.isEmpty)
            await client.close()
        }
    }
}
