import Foundation
import NowOrLater
import StrictJSON
import Testing
import UserCore

@Suite("The domain's operations over the in-memory adapters")
struct UserLogicTests {
    let store = InMemoryUserStore()
    let cache = InMemoryUserCache()
    var operations: UserOperations { UserOperations(repository: UserRepository(store: store, cache: cache)) }

    /// An operation's answer; the in-memory adapters never block, so every answer is given at once.
    func answer<Value>(_ outcome: Answer<Value, UserError>) throws(UserError) -> Value {
        guard case .now(let result) = outcome else {
            Issue.record("the in-memory adapters answered later")
            throw .internalError("answered later")
        }
        return try result.get()
    }

    func register(_ username: String, _ email: String) throws(UserError) -> User {
        try answer(operations.register(username: username, email: email))
    }

    func search(username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil) throws(UserError) -> UserPage {
        try answer(operations.search(username: username, email: email, limit: limit, pageToken: pageToken))
    }

    @Test("registers a user and finds it by id")
    func registerAndGet() throws {
        let user = try register("Ada", "Ada@Example.com")
        #expect(user.username == "Ada")
        #expect(user.email == "Ada@Example.com")
        #expect(user.id.lowercasedText.dropFirst(14).first == "7")
        #expect(try answer(operations.user(id: user.id)) == user)
    }

    @Test("usernames and emails are unique case-insensitively")
    func uniqueness() throws {
        _ = try register("Alice", "alice@example.com")
        #expect(throws: UserError.alreadyExists(field: "username")) { try register("alice", "other@example.com") }
        #expect(throws: UserError.alreadyExists(field: "email")) { try register("alice2", "ALICE@example.COM") }
        #expect(store.count == 1)
    }

    @Test("invalid registrations name every bad field and store nothing")
    func invalidRegistration() {
        #expect(
            throws: UserError.invalidArgument([
                InvalidField(field: "username", description: "must start with a letter or digit"),
                InvalidField(field: "email", description: "must contain exactly one '@'"),
            ])
        ) { try register("_x_", "bad") }
        #expect(store.count == 0)
    }

    @Test("GetUser of an unknown id is NOT_FOUND, naming the id")
    func notFound() {
        let missing = UUID.version7()
        #expect(throws: UserError.notFound(id: missing)) { try answer(operations.user(id: missing)) }
    }

    @Test("cache-aside: registration primes the cache, a miss fills it from the store")
    func cacheAside() throws {
        let user = try register("grace", "grace@example.com")
        #expect(cache.contains(id: user.id))

        // A user only in the store (cache cold): the first read misses, then the cache holds it.
        let coldCache = InMemoryUserCache()
        let cold = UserOperations(repository: UserRepository(store: store, cache: coldCache))
        _ = try answer(cold.user(id: user.id))
        #expect(coldCache.statistics.misses == 1)
        #expect(coldCache.contains(id: user.id))
        _ = try answer(cold.user(id: user.id))
        #expect(coldCache.statistics.hits == 1)
    }

    @Test("a failed insert never reaches the cache")
    func noCacheWithoutCommit() throws {
        _ = try register("taken", "taken@example.com")
        let before = cache.statistics
        #expect(throws: UserError.alreadyExists(field: "username")) { try register("TAKEN", "new@example.com") }
        // Only the first user is stored: the rejected one was never cached either.
        #expect(try search().users.count == 1)
        #expect(cache.statistics == before)
    }

    @Test("search orders by username case-insensitively, then id, and pages with tokens")
    func searchPaging() throws {
        let names = ["bob", "Alice", "alfred", "Carol", "al1", "ALBERT", "dave"]
        for name in names { _ = try register(name, "\(name)@example.com") }
        var seen: [String] = []
        var token: String?
        repeat {
            let page = try search(limit: 3, pageToken: token)
            #expect(page.users.count <= 3)
            seen += page.users.map(\.username)
            token = page.nextPageToken
        } while token != nil
        #expect(seen == ["al1", "ALBERT", "alfred", "Alice", "bob", "Carol", "dave"])

        let prefixed = try search(username: "AL", limit: 2)
        #expect(prefixed.users.map(\.username) == ["al1", "ALBERT"])
        let rest = try search(username: "AL", limit: 2, pageToken: prefixed.nextPageToken)
        #expect(rest.users.map(\.username) == ["alfred", "Alice"])
        #expect(rest.nextPageToken == nil)

        let exact = try search(email: "CAROL@example.com")
        #expect(exact.users.map(\.username) == ["Carol"])
        #expect(exact.nextPageToken == nil)
        #expect(try search(username: "zz").users.isEmpty)
    }

    @Test("the last page has no next_page_token, even when it is full")
    func exactPage() throws {
        for name in ["aa1", "aa2"] { _ = try register(name, "\(name)@example.com") }
        let page = try search(limit: 2)
        #expect(page.users.count == 2)
        #expect(page.nextPageToken == nil)
    }

    @Test("of 50 concurrent registrations of one username, exactly one succeeds")
    func concurrentRegistrations() async {
        let operations = self.operations
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<50 {
                group.addTask {
                    guard case .now(let result) = operations.register(username: "Racer", email: "racer\(i)@example.com") else { return false }
                    return (try? result.get()) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(store.count == 1)
    }

    @Test("a batch of GetUser calls answers each call, in order, with its user or NOT_FOUND")
    func batchedGet() throws {
        let ada = try register("ada", "ada@example.com")
        let bob = try register("bob", "bob@example.com")
        let missing = UUID.version7()
        let query = UserQueryLogic(repository: UserRepository(store: store, cache: cache), pageTokens: PageTokens(key: PageTokens.randomKey()))
        var answers: [Int: Result<User, UserError>] = [:]
        let fill = query.users([bob.id, missing, ada.id, bob.id], cancellation: nil) { answers[$0] = $1 }
        fill?()
        #expect(answers.count == 4)
        #expect(try answers[0]?.get() == bob)
        #expect(throws: UserError.notFound(id: missing)) { try answers[1]?.get() }
        #expect(try answers[2]?.get() == ada)
        #expect(try answers[3]?.get() == bob)
    }

    @Test("where calls run follows from the adapters: inline when none blocks, otherwise on the threads of one that does")
    func executionPolicy() {
        #expect(UserRepository(store: store).execution.executor == nil)
        #expect(UserRepository(store: store, cache: cache).execution.executor == nil)
        let threads = CountingExecutor()
        // The embedded store with a cache that blocks (Redis): the cache's threads.
        #expect(UserRepository(store: store, cache: BlockingCacheStandIn(executor: threads)).execution.executor is CountingExecutor)
        let blocking = UserOperations(repository: UserRepository(store: store, cache: BlockingCacheStandIn(executor: threads)))
        guard case .later = blocking.user(id: UUID.version7()) else {
            Issue.record("a call over a blocking cache was answered inline")
            return
        }
    }
}

/// A cache that says it blocks, on threads that are never used here.
private struct BlockingCacheStandIn: UserCache {
    let executor: any BlockingExecutor
    var execution: StorageExecution { .threads(executor) }
    func users(ids: some Collection<UUID>, found: (User) -> Void) {}
    func store(_ users: [User]) {}
    func storeDeleted(_ users: [User]) {}
}

private struct CountingExecutor: BlockingExecutor {
    var threadCount: Int { 2 }
    func execute(_ work: @escaping @Sendable (Bool) -> Void) { work(true) }
}

@Suite("Idempotency keys, on a pinned clock")
struct IdempotencyWindowTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
    }

    @Test("a repeat within 24 hours answers the first user; after them it is refused, and nothing is registered twice")
    func window() throws {
        let clock = Clock()
        let store = InMemoryUserStore()
        let logic = UserRegistrationLogic(repository: UserRepository(store: store), now: { clock.now })
        let first = try logic.makeUser(username: "kept", email: "kept@example.com", idempotencyKey: "key-1")
        #expect(try logic.register([first], cancellation: nil)[0].get() == first)

        clock.now += 23 * 3600
        let repeated = try logic.makeUser(username: "kept", email: "kept@example.com", idempotencyKey: "key-1")
        #expect(repeated.createdAt != first.createdAt)
        #expect(try logic.register([repeated], cancellation: nil)[0].get() == first, "the first user, with its own time")

        clock.now += 2 * 3600
        let late = try logic.makeUser(username: "kept", email: "kept@example.com", idempotencyKey: "key-1")
        #expect(throws: UserError.self) { try logic.register([late], cancellation: nil)[0].get() }
        #expect(try store.search(UserSearchQuery(limit: 10), cancellation: nil).count == 1)
    }

    @Test("ids derived from keys are version 8, stable, and differ by key")
    func derivedIDs() {
        let id = UserRegistrationLogic.userID(idempotencyKey: "abc")
        #expect(id == UserRegistrationLogic.userID(idempotencyKey: "abc"))
        #expect(id != UserRegistrationLogic.userID(idempotencyKey: "abd"))
        #expect(id.lowercasedText.dropFirst(14).first == "8")
        #expect("89ab".contains(id.lowercasedText.dropFirst(19).first!))
    }
}
