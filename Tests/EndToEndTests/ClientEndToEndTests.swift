import Foundation
import NIOConcurrencyHelpers
import StrictJSON
import Testing
import UserCore
import UserRPCClient
import UserRPCServer
import UserRPCTestKit
import UserV1

@Suite("Client library against a live server")
struct ClientEndToEndTests {
    @Test("register, get and search succeed", arguments: Backend.allCases)
    func successPaths(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let ada = try await client.registerUser(username: "Ada", email: "ada@example.com")
            #expect(ada.username == "Ada")
            #expect(ada.email == "ada@example.com")
            let fetched = try await client.getUser(id: ada.id)
            #expect(fetched == ada)
            _ = try await client.registerUser(username: "adam", email: "adam@example.com")
            _ = try await client.registerUser(username: "bob", email: "bob@example.com")
            let page = try await client.searchUsers(username: "AD", limit: 1)
            #expect(page.users.map(\.username) == ["Ada"])
            let next = try await client.searchUsers(username: "AD", limit: 1, pageToken: page.nextPageToken)
            #expect(next.users.map(\.username) == ["adam"])
            #expect(next.nextPageToken == nil)
            await client.close()
        }
    }

    @Test("INVALID_ARGUMENT names every bad field", arguments: Backend.allCases)
    func invalidArgument(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let error = await #expect(throws: UserRPCError.self) {
                try await client.registerUser(username: "x", email: "not-an-email")
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.fieldViolations.map(\.field) == ["username", "email"])
            let badID = await #expect(throws: UserRPCError.self) {
                try await client.call(method: "GetUser", payload: JSONObject(["id": "3f1c"]))
            }
            #expect(badID?.code == .invalidArgument)
            #expect(badID?.fieldViolations.map(\.field) == ["id"])
            let badLimit = await #expect(throws: UserRPCError.self) { try await client.searchUsers(limit: 101) }
            #expect(badLimit?.fieldViolations.map(\.field) == ["limit"])
            let unknownField = await #expect(throws: UserRPCError.self) {
                try await client.call(method: "user.v1.UserService/GetUser", payload: JSONObject(["id": "x", "nickname": "y"]))
            }
            #expect(unknownField?.code == .invalidArgument)
            #expect(unknownField?.fieldViolations.contains { $0.field == "nickname" } == true)
            await client.close()
        }
    }

    @Test("ALREADY_EXISTS names the field, case-insensitively", arguments: Backend.allCases)
    func alreadyExists(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            _ = try await client.registerUser(username: "Alice", email: "alice@example.com")
            let byName = await #expect(throws: UserRPCError.self) {
                try await client.registerUser(username: "alice", email: "another@example.com")
            }
            #expect(byName?.code == .alreadyExists)
            #expect(byName?.conflictingField == "username")
            let byEmail = await #expect(throws: UserRPCError.self) {
                try await client.registerUser(username: "alice2", email: "ALICE@example.com")
            }
            #expect(byEmail?.conflictingField == "email")
            await client.close()
        }
    }

    @Test("NOT_FOUND and UNIMPLEMENTED", arguments: Backend.allCases)
    func notFoundAndUnimplemented(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let missing = await #expect(throws: UserRPCError.self) { try await client.getUser(id: UUID.version7()) }
            #expect(missing?.code == .notFound)
            let unknown = await #expect(throws: UserRPCError.self) {
                try await client.call(method: "user.v1.UserService/DeleteUser", payload: JSONObject())
            }
            #expect(unknown?.code == .unimplemented)
            await client.close()
        }
    }

    @Test("concurrent callers share one connection", arguments: Backend.allCases)
    func concurrentCallers(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let ada = try await client.registerUser(username: "ada", email: "ada@example.com")
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<300 {
                    group.addTask { try await client.getUser(id: ada.id).username }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(results.count == 300)
            #expect(Set(results) == ["ada"])
            await client.close()
        }
    }

    @Test("a call past its timeout throws DEADLINE_EXCEEDED")
    func clientDeadline() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let client = server.client()
            let error = await #expect(throws: UserRPCError.self) {
                try await client.getUser(id: store.gatedID, options: .init(timeout: .milliseconds(100)))
            }
            #expect(error?.code == .deadlineExceeded)
            // The connection is still good.
            let user = try await client.registerUser(username: "after", email: "after@example.com")
            #expect(try await client.getUser(id: user.id) == user)
            store.openGate()
            await client.close()
        }
    }

    @Test("over a real socket, the client's own timer ends an unanswered call at its deadline while a later deadline waits")
    func clientSideDeadlines() async throws {
        // The order of deadlines is proven on a manual clock (ClientDeadlineTimerTests); here a
        // silent server shows the same over a socket, judged by order, never by elapsed time.
        let silent = try await SilentServer.start()
        let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: silent.port))
        let id = UUID(uuidString: "00000000-0000-7000-8000-000000000000")!
        let longEnded = NIOLockedValueBox(false)
        let long = Task {
            defer { longEnded.withLockedValue { $0 = true } }
            do throws(UserRPCError) {
                _ = try await client.getUser(id: id, options: .init(timeout: .seconds(600)))
                return UserRPCError.Code?.none
            } catch {
                return error.code
            }
        }
        let short = await #expect(throws: UserRPCError.self) {
            try await client.getUser(id: id, options: .init(timeout: .milliseconds(50)))
        }
        #expect(short?.code == .deadlineExceeded)
        #expect(!longEnded.withLockedValue { $0 }, "the 600 s call ended with the 50 ms one")
        long.cancel()
        #expect(await long.value == .cancelled)
        await client.close()
        await silent.stop()
    }

    @Test("pipelined calls the server never answers each end at the deadline; a cancelled group ends at once")
    func pipelinedDeadlinesAndCancel() async throws {
        let silent = try await SilentServer.start()
        let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: silent.port))
        let requests = Array(repeating: GetUserRequest(id: UUID(uuidString: "00000000-0000-7000-8000-000000000000")!), count: 10)
        let timedOut = await client.callPipelined(UserServiceV1.getUser, requests, options: .init(timeout: .milliseconds(100)))
        #expect(timedOut.map { $0.result.failureCode } == Array(repeating: .deadlineExceeded, count: 10))
        let group = Task { await client.callPipelined(UserServiceV1.getUser, requests) }
        group.cancel()
        let cancelled = await group.value
        #expect(cancelled.map { $0.result.failureCode } == Array(repeating: .cancelled, count: 10))
        await client.close()
        await silent.stop()
    }

    @Test("calls from tasks on the client's event loop (taskExecutor) work and run on that loop")
    func callsOnTheClientsEventLoop() async throws {
        try await withTestServer(backend: .embedded) { server in
            let client = server.client()
            let ada = try await client.registerUser(username: "loop", email: "loop@example.com")
            let results = try await withThrowingTaskGroup(of: (Bool, String).self) { group in
                for _ in 0..<50 {
                    group.addTask(executorPreference: client.taskExecutor) {
                        let user = try await client.getUser(id: ada.id)
                        return (client.taskExecutor.eventLoop.inEventLoop, user.username)
                    }
                }
                return try await group.reduce(into: [(Bool, String)]()) { $0.append($1) }
            }
            #expect(results.count == 50)
            #expect(results.allSatisfy { $0.0 && $0.1 == "loop" })
            await client.close()
        }
    }

    @Test("pipelined calls: sent together, each answered with its own result, in order", arguments: Backend.allCases)
    func pipelinedCalls(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let users = try await (0..<5).asyncMap { i in try await client.registerUser(username: "piped\(i)", email: "piped\(i)@example.com") }
            // Known ids, an unknown one, and a malformed one, 100 calls in one write.
            var payloads: [JSONObject] = []
            var expected: [String?] = []
            for i in 0..<100 {
                switch i % 7 {
                case 5:
                    payloads.append(JSONObject(["id": "00000000-0000-7000-8000-000000000000"]))
                    expected.append("NOT_FOUND")
                case 6:
                    payloads.append(JSONObject(["id": "nope"]))
                    expected.append("INVALID_ARGUMENT")
                default:
                    payloads.append(JSONObject(["id": .string(users[i % 7].id.lowercasedText)]))
                    expected.append(nil)
                }
            }
            let started = ContinuousClock.now
            let answers = await client.callPipelined(method: "user.v1.UserService/GetUser", payloads: payloads)
            #expect(answers.count == 100)
            for (i, answer) in answers.enumerated() {
                #expect(answer.answeredAt >= started)
                switch answer.result {
                case .success(let payload):
                    #expect(expected[i] == nil, "call \(i)")
                    #expect(payload["username"]?.stringValue == users[i % 7].username, "call \(i)")
                case .failure(let error):
                    #expect(error.code.rawValue == expected[i], "call \(i): \(error)")
                }
            }
            await client.close()
        }
    }

    @Test("typed pipelined calls: GetUser, RegisterUser and SearchUsers each get their own typed answer", arguments: Backend.allCases)
    func typedPipelinedCalls(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            // RegisterUser: four new users and one that conflicts with a user registered before, in one
            // write. (Two conflicting registrations in the same write may run in either order.)
            let first = try await client.registerUser(username: "typed0", email: "typed0@example.com")
            var registrations = (1..<5).map { RegisterUserRequest(username: "typed\($0)", email: "typed\($0)@example.com") }
            registrations.append(RegisterUserRequest(username: "TYPED0", email: "other@example.com"))
            let registered = await client.callPipelined(UserServiceV1.registerUser, registrations)
            let users = try [first] + registered.prefix(4).map { try $0.result.get() }
            #expect(users.map(\.username) == (0..<5).map { "typed\($0)" })
            #expect(registered[4].error?.code == .alreadyExists)
            // GetUser: the users and an unknown id.
            let ids = users.map(\.id) + [UUID(uuidString: "00000000-0000-7000-8000-000000000000")!]
            let fetched = await client.callPipelined(UserServiceV1.getUser, ids.map { GetUserRequest(id: $0) })
            #expect(try fetched.prefix(5).map { try $0.result.get() } == users)
            #expect(fetched[5].error?.code == .notFound)
            for user in users { #expect(try await client.getUser(id: user.id) == user) }
            #expect(try await client.call(UserServiceV1.getUser, GetUserRequest(id: ids[0])) == users[0])
            await #expect(throws: UserRPCError.self) { try await client.call(UserServiceV1.getUser, GetUserRequest(id: ids[5])) }
            // SearchUsers: a response type read the general way.
            let searches = [SearchUsersRequest(username: "typed", limit: 2), SearchUsersRequest(limit: 0)]
            let pages = await client.callPipelined(UserServiceV1.searchUsers, searches)
            #expect(try pages[0].result.get().users == Array(users.prefix(2)))
            #expect(pages[1].error?.code == .invalidArgument)
            await client.close()
        }
    }

    @Test("cancelling the calling task throws CANCELLED")
    func clientCancel() async throws {
        let store = GatedUserStore()
        try await TestServer.start(repository: UserRepository(store: store)).scoped { server in
            let client = server.client()
            let call = Task { try await client.getUser(id: store.gatedID) }
            var arrivals = store.arrived.makeAsyncIterator()
            _ = await arrivals.next()  // the call is in flight on the server
            call.cancel()
            let result = await call.result
            guard case .failure(let error as UserRPCError) = result else {
                Issue.record("expected a UserRPCError, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            await client.close()
            store.openGate()
        }
    }

    @Test("UNAVAILABLE when nothing listens, and reconnects after the server restarts")
    func reconnect() async throws {
        // The client is the first server's (its scope closes it): the second server's scope is inside the first's.
        try await TestServer.start().scoped { first in
            let port = first.port
            let client = first.client()
            _ = try await client.registerUser(username: "before", email: "before@example.com")
            try await first.stop()

            let down = await #expect(throws: UserRPCError.self) { try await client.searchUsers() }
            #expect(down?.code == .unavailable)

            try await TestServer.start { $0.port = port }.scoped { _ in
                let user = try await client.registerUser(username: "after", email: "after@example.com")
                #expect(try await client.getUser(id: user.id) == user)
                await client.close()
            }
        }
    }
}

@Suite("Search through the client")
struct SearchEndToEndTests {
    @Test("orders by username case-insensitively and pages to the end", arguments: Backend.allCases)
    func paging(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let client = server.client()
            let names = ["bob", "Alice", "alfred", "Carol", "al1", "ALBERT", "dave", "al.x", "al_y", "al-z"]
            for name in names {
                _ = try await client.registerUser(username: name, email: "\(name)@example.com")
            }
            var seen: [String] = []
            var token: String?
            repeat {
                let page = try await client.searchUsers(limit: 3, pageToken: token)
                #expect(page.users.count <= 3)
                seen += page.users.map(\.username)
                token = page.nextPageToken
            } while token != nil
            #expect(seen == names.sorted { Array($0.lowercased().utf8).lexicographicallyPrecedes(Array($1.lowercased().utf8)) })

            let prefixed = try await client.searchUsers(username: "AL", limit: 3)
            #expect(prefixed.users.map(\.username) == ["al-z", "al.x", "al1"])
            // The next page: the same search (the prefix compares case-insensitively, so "al" is "AL").
            let next = try await client.searchUsers(username: "al", limit: 3, pageToken: prefixed.nextPageToken)
            #expect(next.users.map(\.username) == ["al_y", "ALBERT", "alfred"])
            let last = try await client.searchUsers(username: "AL", limit: 3, pageToken: next.nextPageToken)
            #expect(last.users.map(\.username) == ["Alice"])
            #expect(last.nextPageToken == nil)
            // A token is bound to its search: with another limit or other filters it is refused.
            for (username, email, limit) in [("al", nil, 10), ("a", nil, 3), ("al", "alice@example.com", 3)] as [(String, String?, Int)] {
                await #expect {
                    _ = try await client.searchUsers(username: username, email: email, limit: limit, pageToken: prefixed.nextPageToken)
                } throws: { error in
                    (error as? UserRPCError)?.fieldViolations.map(\.field) == ["page_token"]
                }
            }
            // An empty token is the first page.
            #expect(try await client.searchUsers(username: "AL", limit: 3, pageToken: "").users == prefixed.users)
            let byEmail = try await client.searchUsers(email: "CAROL@EXAMPLE.COM")
            #expect(byEmail.users.map(\.username) == ["Carol"])
            let both = try await client.searchUsers(username: "c", email: "carol@example.com")
            #expect(both.users.map(\.username) == ["Carol"])
            let neither = try await client.searchUsers(username: "b", email: "carol@example.com")
            #expect(neither.users.isEmpty)
            let unusual = try await client.searchUsers(username: "é")
            #expect(unusual.users.isEmpty)
            await client.close()
        }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

extension Result where Failure == UserRPCError {
    fileprivate var failureCode: UserRPCError.Code? {
        if case .failure(let error) = self { error.code } else { nil }
    }
}
