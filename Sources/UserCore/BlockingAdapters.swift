#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs work that blocks its thread (libpq, hiredis calls) on threads set aside for it.
public protocol BlockingExecutor: Sendable {
    /// How many pieces of work run at once.
    var threadCount: Int { get }
    /// Runs `work` on one of the executor's threads, or immediately with `false` if the executor is
    /// shut down.
    func execute(_ work: @escaping @Sendable (_ isActive: Bool) -> Void)
}

/// A store whose calls block the calling thread (a database client library).
///
/// The server runs a whole call — cache, store, cache — on one thread of ``blockingExecutor``: one
/// hop there and one back, instead of a hop for every adapter call.
public protocol BlockingUserStore: UserStore {
    var blockingExecutor: any BlockingExecutor { get }
    func insertBlocking(_ user: User, cancellation: CallCancellation) throws(UserError)
    func userBlocking(id: UUID, cancellation: CallCancellation) throws(UserError) -> User?
    func searchBlocking(_ query: UserSearchQuery, cancellation: CallCancellation) throws(UserError) -> [User]

    /// Inserts several users, each on its own (one failing does not affect the others): the result
    /// for each, in order. The default inserts them one by one.
    func insertBlocking(_ users: [User], cancellation: CallCancellation) -> [Result<Void, UserError>]
    /// The users with these ids that exist, in no particular order. The default reads them one by one.
    func usersBlocking(ids: [UUID], cancellation: CallCancellation) throws(UserError) -> [User]
}

extension BlockingUserStore {
    public func insertBlocking(_ users: [User], cancellation: CallCancellation) -> [Result<Void, UserError>] {
        users.map { user in Result { () throws(UserError) in try insertBlocking(user, cancellation: cancellation) } }
    }

    public func usersBlocking(ids: [UUID], cancellation: CallCancellation) throws(UserError) -> [User] {
        var users: [User] = []
        for id in ids {
            if let user = try userBlocking(id: id, cancellation: cancellation) { users.append(user) }
        }
        return users
    }
}

/// A cache whose calls block the calling thread. Like every cache, it never fails a call.
public protocol BlockingUserCache: UserCache {
    func userBlocking(id: UUID) -> User?
    func storeBlocking(_ user: User)

    /// The cached user for each id, in order (`nil` for a miss). The default reads them one by one.
    func usersBlocking(ids: [UUID]) -> [User?]
    /// Caches several users. The default stores them one by one.
    func storeBlocking(_ users: [User])
}

extension BlockingUserCache {
    public func usersBlocking(ids: [UUID]) -> [User?] { ids.map { userBlocking(id: $0) } }
    public func storeBlocking(_ users: [User]) { for user in users { storeBlocking(user) } }
}

/// ``UserRepository`` over blocking adapters, for running calls on a blocking thread: GetUser and
/// RegisterUser in batches (the adapters save round trips), searches one by one.
public struct BlockingUserRepository: Sendable {
    public let store: any BlockingUserStore
    public let cache: (any BlockingUserCache)?

    public var executor: any BlockingExecutor { store.blockingExecutor }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation) throws(UserError) -> [User] {
        try store.searchBlocking(query, cancellation: cancellation)
    }

    /// Inserts several users at once, each succeeding or failing on its own, then primes the cache
    /// with the ones committed: the cache never holds a user the store has not committed.
    public func add(_ users: [User], cancellation: CallCancellation) -> [Result<Void, UserError>] {
        let results = store.insertBlocking(users, cancellation: cancellation)
        if let cache {
            let committed = zip(users, results).compactMap { user, result in (try? result.get()).map { user } }
            if !committed.isEmpty { cache.storeBlocking(committed) }
        }
        return results
    }

    /// Cache-aside for several ids at once: the cache first, then the store for the misses. Returns
    /// the users found, by id, and the cache fill for the ones the store returned, which the caller
    /// runs once it has answered.
    public func users(ids: [UUID], cancellation: CallCancellation) throws(UserError) -> (found: [UUID: User], fillCache: () -> Void) {
        var found: [UUID: User] = [:]
        var missing = ids
        if let cache {
            missing = []
            for (id, cached) in zip(ids, cache.usersBlocking(ids: ids)) {
                if let cached { found[id] = cached } else { missing.append(id) }
            }
        }
        guard !missing.isEmpty else { return (found, {}) }
        let loaded = try store.usersBlocking(ids: missing, cancellation: cancellation)
        for user in loaded { found[user.id] = user }
        guard let cache, !loaded.isEmpty else { return (found, {}) }
        return (found, { cache.storeBlocking(loaded) })
    }
}

extension UserRepository {
    /// The same repository for running on a blocking thread, when the store blocks and the cache
    /// (if any) can run there too.
    public var blocking: BlockingUserRepository? {
        guard let store = store as? any BlockingUserStore else { return nil }
        if let cache {
            guard let cache = cache as? any BlockingUserCache else { return nil }
            return BlockingUserRepository(store: store, cache: cache)
        }
        return BlockingUserRepository(store: store, cache: nil)
    }
}
