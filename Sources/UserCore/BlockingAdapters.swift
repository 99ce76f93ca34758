#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs work that blocks its thread (libpq, hiredis calls) on threads set aside for it.
public protocol BlockingExecutor: Sendable {
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
}

/// A cache whose calls block the calling thread. Like every cache, it never fails a call.
public protocol BlockingUserCache: UserCache {
    func userBlocking(id: UUID) -> User?
    func storeBlocking(_ user: User)
}

/// ``UserRepository`` over blocking adapters, for running a call on one blocking thread.
public struct BlockingUserRepository: Sendable {
    public let store: any BlockingUserStore
    public let cache: (any BlockingUserCache)?

    public var executor: any BlockingExecutor { store.blockingExecutor }

    public func add(_ user: User, cancellation: CallCancellation) throws(UserError) {
        try store.insertBlocking(user, cancellation: cancellation)
        cache?.storeBlocking(user)
    }

    public func user(id: UUID, cancellation: CallCancellation) throws(UserError) -> User? {
        if let cache, let cached = cache.userBlocking(id: id) { return cached }
        guard let user = try store.userBlocking(id: id, cancellation: cancellation) else { return nil }
        cache?.storeBlocking(user)
        return user
    }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation) throws(UserError) -> [User] {
        try store.searchBlocking(query, cancellation: cancellation)
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
