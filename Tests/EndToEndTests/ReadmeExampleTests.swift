import Foundation
import Testing
import UserRPCClient
import UserRPCTestKit
import UserV1

/// The embedding example shown in README.md, compiled and run here. The README holds the same lines,
/// with the server's default port where this copy says `port`.
func readmeExample(port: Int) async -> String {
    var printed = ""
    func print(_ items: Any...) { printed += items.map { "\($0)" }.joined(separator: " ") + "\n" }
    // README-EXAMPLE-BEGIN
    let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: port))
    do throws(UserRPCError) {
        let ada = try await client.registerUser(username: "ada", email: "ada@example.com")
        let same = try await client.getUser(id: ada.id)
        print("registered", same.username, "at", same.createdAt)
    } catch {
        print("failed:", error.code, error.message, error.fieldViolations)
    }
    await client.close()
    // README-EXAMPLE-END
    return printed
}

/// The pipelined example shown in README.md, compiled and run here.
func readmePipelinedExample(client: UserRPCClient, ids: [UUID]) async -> String {
    var printed = ""
    func print(_ items: Any...) { printed += items.map { "\($0)" }.joined(separator: " ") + "\n" }
    // README-PIPELINED-BEGIN
    let answers = await client.callPipelined(UserServiceV1.getUser, ids.map { GetUserRequest(id: $0) })
    for answer in answers {
        switch answer.result {
        case .success(let user): print(user.username)
        case .failure(let error): print(error.code)
        }
    }
    // README-PIPELINED-END
    return printed
}

@Suite("README")
struct ReadmeExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func exampleLines(in text: String, between begin: String, and end: String) -> [String] {
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.contains(begin) }),
            let stop = lines[start...].firstIndex(where: { $0.contains(end) })
        else { return [] }
        return lines[(start + 1)..<stop].map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test("the embedding example runs against a live server")
    func exampleRuns() async throws {
        try await withTestServer { server in
            let output = await readmeExample(port: server.port)
            #expect(output.hasPrefix("registered ada at "), "\(output)")
            let again = await readmeExample(port: server.port)
            #expect(again.hasPrefix("failed: ALREADY_EXISTS"), "\(again)")
        }
    }

    @Test("the pipelined example runs against a live server")
    func pipelinedExampleRuns() async throws {
        try await withTestServer { server in
            let client = server.client()
            let grace = try await client.registerUser(username: "grace", email: "grace@example.com")
            let output = await readmePipelinedExample(client: client, ids: [grace.id, UUID(uuidString: "00000000-0000-7000-8000-000000000000")!])
            #expect(output == "grace\nNOT_FOUND\n")
            await client.close()
        }
    }

    @Test("README.md shows exactly the pipelined example this file compiles")
    func readmePipelinedMatches() throws {
        let source = try String(contentsOf: Self.root.appendingPathComponent("Tests/EndToEndTests/ReadmeExampleTests.swift"), encoding: .utf8)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let compiled = Self.exampleLines(in: source, between: "README-PIPELINED-BEGIN", and: "README-PIPELINED-END")
        let lines = readme.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let start = try #require(lines.firstIndex { $0.hasPrefix("let answers = await client.callPipelined(") })
        let stop = try #require(lines[start...].firstIndex { $0 == "```" })
        #expect(compiled.count >= 7)
        #expect(Array(lines[start..<stop]) == compiled)
    }

    @Test("README.md shows exactly the example this file compiles")
    func readmeMatches() throws {
        let source = try String(contentsOf: Self.root.appendingPathComponent("Tests/EndToEndTests/ReadmeExampleTests.swift"), encoding: .utf8)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let compiled = Self.exampleLines(in: source, between: "README-EXAMPLE-BEGIN", and: "README-EXAMPLE-END")
            .map { $0.replacingOccurrences(of: "port: port", with: "port: 50051") }
        let shown = Self.exampleLines(in: readme, between: "import UserRPCClient", and: "```").filter { !$0.isEmpty }
        #expect(compiled.count >= 8)
        #expect(shown == compiled)
    }
}
