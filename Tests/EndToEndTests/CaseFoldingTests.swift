import Foundation
import Testing
import UserRPCClient
import UserRPCTestKit

/// One case-folding rule on every backend (PROTOCOL.md section 5.2): ASCII letters fold, nothing
/// else does, and nothing is normalized. The same cases give the same answers everywhere.
@Suite("Case-insensitive uniqueness across backends")
struct CaseFoldingTests {
    @Test("the same registrations and searches get the same answers on every backend", arguments: Backend.allCases)
    func sameAnswers(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let tag = "\(backend)".replacingOccurrences(of: "+", with: "")
            func register(_ username: String, _ email: String) async -> String {
                do {
                    _ = try await client.registerUser(username: username + tag, email: email)
                    return "OK"
                } catch {
                    return "\(error.code)" + (error.conflictingField.map { ":\($0)" } ?? "")
                }
            }
            let answers = [
                await register("jurgen1", "jürgen@\(tag).example.com"),
                await register("jurgen2", "JÜRGEN@\(tag).example.com"),  // Ü is not folded: another email
                await register("jurgen3", "Jürgen@\(tag).example.com"),  // J is: the first one's
                await register("JURGEN1", "x1@\(tag).example.com"),  // usernames fold (ASCII)
                await register("omega1", "ωmega@\(tag).example.com"),
                await register("omega2", "Ωmega@\(tag).example.com"),  // Ω is not folded
                // Precomposed é and e + U+0301 are different bytes, so different emails.
                await register("accent1", "caf\u{e9}@\(tag).example.com"),
                await register("accent2", "cafe\u{301}@\(tag).example.com"),
                await register("accent3", "CAF\u{e9}@\(tag).example.com"),  // C, A, F fold
            ]
            #expect(answers == ["OK", "OK", "ALREADY_EXISTS:email", "ALREADY_EXISTS:username", "OK", "OK", "OK", "OK", "ALREADY_EXISTS:email"])

            let byEmail = try await client.searchUsers(email: "JüRGEN@\(tag.uppercased()).EXAMPLE.COM")
            #expect(byEmail.users.map(\.email) == ["jürgen@\(tag).example.com"])
            let upper = try await client.searchUsers(email: "jÜrgen@\(tag).example.com")
            #expect(upper.users.map(\.email) == ["JÜRGEN@\(tag).example.com"])

            // A change to canonically equivalent but different bytes is a change: a new version.
            let user = try await client.v2.registerUser(username: "change" + tag, email: "n\u{f6}@\(tag).example.com")
            let changed = try await client.v2.updateUser(id: user.id, email: "no\u{308}@\(tag).example.com")
            #expect(changed.version == 2 && Array(changed.email.utf8) == Array("no\u{308}@\(tag).example.com".utf8))
            await client.close()
        }
    }

    @Test("an email is at most 255 code points, as the schema's maxLength counts: combining marks count, and cannot make a user long")
    func emailLength() async throws {
        try await withTestServer { server async throws in
            let client = server.client()
            let heavy = "a" + String(repeating: "\u{301}", count: 250) + "@example.com"  // 2 characters for people, 263 code points
            await #expect {
                _ = try await client.registerUser(username: "heavy", email: heavy)
            } throws: { ($0 as? UserRPCError)?.fieldViolations.map(\.description) == ["must be at most 255 characters long"] }
            await #expect {
                _ = try await client.searchUsers(email: heavy)
            } throws: { ($0 as? UserRPCError)?.fieldViolations.map(\.field) == ["email"] }
            // An '@' with a combining mark is an '@'; a C1 control character is refused.
            #expect(try await client.registerUser(username: "marked", email: "a@\u{301}b.com").email == "a@\u{301}b.com")
            await #expect {
                _ = try await client.registerUser(username: "control", email: "a\u{85}b@example.com")
            } throws: { ($0 as? UserRPCError)?.code == .invalidArgument }
            await #expect {
                _ = try await client.registerUser(username: "control", email: "a\u{9b}b@example.com")
            } throws: { ($0 as? UserRPCError)?.code == .invalidArgument }
            // An empty email filter filters nothing, as an empty username prefix.
            #expect(try await client.searchUsers(email: "").users.map(\.username) == ["marked"])
            await client.close()
        }
    }
}
