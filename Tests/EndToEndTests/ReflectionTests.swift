import Foundation
import ReflectionV1
import Testing
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserRPCWire

/// `reflection.v1.Reflection`: a server describes exactly what it serves, from `Schemas/` byte for byte.
@Suite("Server reflection")
struct ReflectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("ListServices names every hosted service; DescribeService returns each one's schema file byte for byte", arguments: Backend.allCases)
    func listAndDescribe(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let services = try await client.listServices()
            #expect(
                services.map(\.name) == ["health.v1.Health", "reflection.v1.Reflection", "user.v1.UserService", "user.v2.UserService"])
            let served = Set(server.server.methodNames)
            for entry in services {
                let schema = try await client.describeService(entry.name)
                let file = try String(contentsOf: Self.root.appendingPathComponent("Schemas/\(entry.package).json"), encoding: .utf8)
                #expect(schema.text == file, "\(entry.name): byte for byte, the last newline included")
                #expect(schema.methods.count == entry.methods)
                #expect(schema.methods.allSatisfy { served.contains($0.fullName) }, "\(entry.name) lists a method the server does not serve")
                #expect(try await client.describeService(entry.package) == schema, "by package")
            }
            #expect(served == Set(try await services.asyncFlatMap { try await client.describeService($0.name).methods.map(\.fullName) }))
            let unknown = await #expect(throws: UserRPCError.self) { try await client.describeService("user.v3.UserService") }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message.contains("user.v1.UserService") == true, "the error lists what is hosted")
            await client.close()
        }
    }

    @Test("reflection needs a token when tokens are on, and can be turned off (UNIMPLEMENTED)")
    func tokensAndOff() async throws {
        try await TestServer.start { $0.authTokens = ["s3cret"] }.scoped { guarded async throws in
            let anonymous = guarded.client()
            let refused = await #expect(throws: UserRPCError.self) { try await anonymous.listServices() }
            #expect(refused?.code == .unauthenticated)
            var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: guarded.port)
            configuration.bearerToken = "s3cret"
            let holder = UserRPCClient(configuration: configuration)
            #expect(try await holder.listServices().count == 4)
            await anonymous.close()
            await holder.close()
        }

        try await TestServer.start { $0.reflection = false }.scoped { off in
            let client = off.client()
            let absent = await #expect(throws: UserRPCError.self) { try await client.listServices() }
            #expect(absent?.code == .unimplemented)
            #expect(!off.server.methodNames.contains { $0.hasPrefix("reflection.v1.") })
            await client.close()
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result += try await transform(element) }
        return result
    }
}
