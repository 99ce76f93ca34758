import Logging
import ServiceLifecycle
import Testing
import UserRPCClient
import UserRPCTestKit
import UserV2

/// The client's conveniences around the calls: pages as one sequence, and the scoped client.
@Suite("Client conveniences")
struct ClientConveniencesTests {
    @Test("searchAllUsers visits every matching user across pages, in the server's order, through v1 and v2")
    func allPages() async throws {
        try await withTestServer { server in
            let client = server.client()
            for index in 0..<23 {
                _ = try await client.registerUser(username: "page\(index < 10 ? "0" : "")\(index)", email: "page\(index)@example.com")
            }
            _ = try await client.registerUser(username: "other", email: "other@example.com")
            var v1: [String] = []
            for try await user in client.v1.searchAllUsers(username: "page", pageSize: 5) { v1.append(user.username) }
            #expect(v1 == (0..<23).map { "page\($0 < 10 ? "0" : "")\($0)" })
            var v2: [String] = []
            for try await user in client.v2.searchAllUsers(pageSize: 7) { v2.append(user.username) }
            #expect(v2 == ["other"] + v1, "ordered by username")
            var none = 0
            for try await _ in client.v2.searchAllUsers(username: "nobody") { none += 1 }
            #expect(none == 0)
            await client.close()
        }
    }

    @Test("a page's error ends the loop with it")
    func pageError() async throws {
        try await withTestServer { server in
            let client = server.client()
            let error = await #expect(throws: UserRPCError.self) {
                for try await _ in client.v1.searchAllUsers(pageSize: 0) {}
            }
            #expect(error?.code == .invalidArgument)
            await client.close()
        }
    }

    @Test("withUserRPCClient closes its client when the body returns and when it throws")
    func scopedClient() async throws {
        try await withTestServer { server in
            let configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            let escaped = try await withUserRPCClient(configuration) { client async throws(UserRPCError) in
                #expect(try await client.checkHealth().status == .serving)
                return client
            }
            let afterReturn = await #expect(throws: UserRPCError.self) { try await escaped.checkHealth() }
            #expect(afterReturn?.code == .unavailable)
            struct Failed: Error {}
            var thrownFrom: UserRPCClient?
            await #expect(throws: Failed.self) {
                try await withUserRPCClient(configuration) { client async throws in
                    thrownFrom = client
                    throw Failed()
                }
            }
            let afterThrow = await #expect(throws: UserRPCError.self) { try await thrownFrom?.checkHealth() }
            #expect(afterThrow?.code == .unavailable)
        }
    }

    @Test("CallOptions takes metadata and an idempotency key together, and the server honours the key")
    func metadataAndKey() async throws {
        let options = CallOptions(timeout: .seconds(5), metadata: ["x-request-id": "both-1"], idempotencyKey: "key-both")
        #expect(options.metadata == ["x-request-id": "both-1", "idempotency-key": "key-both"])
        #expect(options.idempotencyKey == "key-both")
        try await withTestServer { server in
            let client = server.client()
            let first = try await client.v2.registerUser(username: "both", email: "both@example.com", options: options)
            let repeated = try await client.v2.registerUser(username: "both", email: "both@example.com", options: options)
            #expect(repeated == first)
            await client.close()
        }
    }

    @Test("in a ServiceGroup the client serves calls until the group shuts down gracefully, then its connections are closed")
    func inServiceGroup() async throws {
        try await withTestServer { server in
            let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: server.port))
            let group = ServiceGroup(
                services: [client], gracefulShutdownSignals: [], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let ada = try await client.v2.registerUser(username: "lifecycle", email: "lifecycle@example.com")
                #expect(try await client.v2.getUser(id: ada.id) == ada)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            // The group's end closed the client: later calls fail at once.
            await #expect(throws: UserRPCError.self) { try await client.v2.getUser(id: UUID()) }
        }
    }

    @Test("callWithMetadata returns the answer's metadata: the request id the client sent, or the one the server made, on flat and nested responses")
    func responseMetadata() async throws {
        try await withTestServer { server in
            let client = server.client()
            let ada = try await client.v2.registerUser(username: "metadata", email: "metadata@example.com")
            // A flat response (read straight from its bytes), with the client's own request id.
            let got = try await client.callWithMetadata(
                UserServiceV2.getUser, UserServiceV2.GetUserRequest(id: ada.id), options: CallOptions(metadata: ["x-request-id": "mine-1"]))
            #expect(got.message == ada)
            #expect(got.metadata["x-request-id"] == "mine-1")
            // A nested response (parsed), with the id the server made.
            let page = try await client.callWithMetadata(UserServiceV2.searchUsers, UserServiceV2.SearchUsersRequest(username: "meta"))
            #expect(page.message.users == [ada])
            #expect(page.metadata["x-request-id"]?.isEmpty == false)
            // Errors are thrown as by `call`.
            await #expect(throws: UserRPCError.self) {
                try await client.callWithMetadata(UserServiceV2.getUser, UserServiceV2.GetUserRequest(id: UUID()))
            }
        }
    }
}
