import Foundation
import Testing
import UserCore
import UserV1

@Suite("Registration and query logic over the in-memory adapters")
struct UserLogicTests {
    let store = InMemoryUserStore()
    let cache = InMemoryUserCache()
    var repository: UserRepository { UserRepository(store: store, cache: cache) }
    var registration: UserRegistrationLogic { UserRegistrationLogic(repository: repository) }
    var query: UserQueryLogic { UserQueryLogic(repository: repository) }

    @Test("registers a user and finds it by id")
    func registerAndGet() async throws {
        let user = try await registration.register(RegisterUserRequest(username: "Ada", email: "Ada@Example.com"))
        #expect(user.username == "Ada")
        #expect(user.email == "Ada@Example.com")
        #expect(UUID(strictText: user.id) != nil)
        #expect(user.createdAt.hasSuffix("Z"))
        let found = try await query.getUser(GetUserRequest(id: user.id))
        #expect(found == user)
    }

    @Test("usernames and emails are unique case-insensitively")
    func uniqueness() async throws {
        _ = try await registration.register(RegisterUserRequest(username: "Alice", email: "alice@example.com"))
        await #expect(throws: UserError.alreadyExists(field: "username")) {
            try await registration.register(RegisterUserRequest(username: "alice", email: "other@example.com"))
        }
        await #expect(throws: UserError.alreadyExists(field: "email")) {
            try await registration.register(RegisterUserRequest(username: "alice2", email: "ALICE@example.COM"))
        }
        #expect(store.count == 1)
    }

    @Test("invalid registrations name every bad field and store nothing")
    func invalidRegistration() async {
        await #expect(throws: UserError.self) {
            try await registration.register(RegisterUserRequest(username: "_x", email: "bad"))
        }
        do {
            _ = try await registration.register(RegisterUserRequest(username: "_x", email: "bad"))
        } catch {
            guard case .invalidArgument(let violations) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(violations.map(\.field) == ["username", "email"])
        }
        #expect(store.count == 0)
    }

    @Test("GetUser: malformed id is INVALID_ARGUMENT, unknown id NOT_FOUND")
    func getErrors() async {
        await #expect(throws: UserError.self) { try await query.getUser(GetUserRequest(id: "nope")) }
        let missing = UUID.version7().lowercasedText
        await #expect(throws: UserError.notFound(id: missing)) { try await query.getUser(GetUserRequest(id: missing)) }
    }

    @Test("cache-aside: registration primes the cache, a miss fills it from the store")
    func cacheAside() async throws {
        let user = try await registration.register(RegisterUserRequest(username: "grace", email: "grace@example.com"))
        let id = try #require(UUID(strictText: user.id))
        #expect(cache.contains(id: id))

        // A user only in the store (cache cold): the first read misses, then the cache holds it.
        let coldCache = InMemoryUserCache()
        let coldQuery = UserQueryLogic(repository: UserRepository(store: store, cache: coldCache))
        _ = try await coldQuery.getUser(GetUserRequest(id: user.id))
        #expect(coldCache.statistics.misses == 1)
        #expect(coldCache.contains(id: id))
        _ = try await coldQuery.getUser(GetUserRequest(id: user.id))
        #expect(coldCache.statistics.hits == 1)
    }

    @Test("a failed insert never reaches the cache")
    func noCacheWithoutCommit() async throws {
        _ = try await registration.register(RegisterUserRequest(username: "taken", email: "taken@example.com"))
        let before = cache.statistics
        await #expect(throws: UserError.alreadyExists(field: "username")) {
            try await registration.register(RegisterUserRequest(username: "TAKEN", email: "new@example.com"))
        }
        // Only the first user is cached: the rejected one was never stored.
        let all = try await query.searchUsers(SearchUsersRequest())
        #expect(all.users.count == 1)
        #expect(cache.statistics == before)
    }

    @Test("search orders by username case-insensitively, then id, and pages with tokens")
    func searchPaging() async throws {
        let names = ["bob", "Alice", "alfred", "Carol", "al1", "ALBERT", "dave"]
        for name in names {
            _ = try await registration.register(RegisterUserRequest(username: name, email: "\(name)@example.com"))
        }
        var seen: [String] = []
        var token: String?
        repeat {
            let page = try await query.searchUsers(SearchUsersRequest(limit: 3, pageToken: token))
            #expect(page.users.count <= 3)
            seen += page.users.map(\.username)
            token = page.nextPageToken
        } while token != nil
        #expect(seen == ["al1", "ALBERT", "alfred", "Alice", "bob", "Carol", "dave"])

        let prefixed = try await query.searchUsers(SearchUsersRequest(username: "AL", limit: 2))
        #expect(prefixed.users.map(\.username) == ["al1", "ALBERT"])
        let rest = try await query.searchUsers(SearchUsersRequest(username: "AL", limit: 2, pageToken: prefixed.nextPageToken))
        #expect(rest.users.map(\.username) == ["alfred", "Alice"])
        #expect(rest.nextPageToken == nil)

        let exact = try await query.searchUsers(SearchUsersRequest(email: "CAROL@example.com"))
        #expect(exact.users.map(\.username) == ["Carol"])
        #expect(exact.nextPageToken == nil)

        let none = try await query.searchUsers(SearchUsersRequest(username: "zz"))
        #expect(none.users.isEmpty)
    }

    @Test("the last page has no next_page_token, even when it is full")
    func exactPage() async throws {
        for name in ["aa1", "aa2"] {
            _ = try await registration.register(RegisterUserRequest(username: name, email: "\(name)@example.com"))
        }
        let page = try await query.searchUsers(SearchUsersRequest(limit: 2))
        #expect(page.users.count == 2)
        #expect(page.nextPageToken == nil)
    }

    @Test("of 50 concurrent registrations of one username, exactly one succeeds")
    func concurrentRegistrations() async {
        let registration = self.registration
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<50 {
                group.addTask {
                    (try? await registration.register(RegisterUserRequest(username: "Racer", email: "racer\(i)@example.com"))) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(store.count == 1)
    }

    @Test("the embedded store runs without blocking; the logic reports it")
    func nonBlockingPath() throws {
        let result = try #require(registration.registerWithoutBlocking(RegisterUserRequest(username: "inline", email: "inline@example.com")))
        let user = try result.get()
        let found = try #require(query.getUserWithoutBlocking(GetUserRequest(id: user.id)))
        #expect(try found.get() == user)
        // A repository over a store that may block has no synchronous path.
        let blocking = UserQueryLogic(repository: UserRepository(store: BlockingStoreStandIn()))
        #expect(blocking.getUserWithoutBlocking(GetUserRequest(id: user.id)) == nil)
    }
}

/// A store that claims it may block (it only implements the async port).
private struct BlockingStoreStandIn: UserStore {
    func insert(_ user: UserCore.User) async throws(UserError) {}
    func user(id: UUID) async throws(UserError) -> UserCore.User? { nil }
    func search(_ query: UserSearchQuery) async throws(UserError) -> [UserCore.User] { [] }
}
