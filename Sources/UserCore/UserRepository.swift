#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Orchestrates a store and an optional cache: cache-aside reads, cache priming after a committed insert.
public struct UserRepository: Sendable {
    public let store: any UserStore
    public let cache: (any UserCache)?

    public init(store: any UserStore, cache: (any UserCache)? = nil) {
        self.store = store
        self.cache = cache
    }

    /// Inserts `user`, then primes the cache. The cache never holds a user the store has not committed.
    public func add(_ user: User) async throws(UserError) {
        try await store.insert(user)
        await cache?.store(user)
    }

    /// Cache first; on a miss, the store, and the cache is filled with what it returned.
    public func user(id: UUID) async throws(UserError) -> User? {
        if let cache, let cached = await cache.user(id: id) { return cached }
        guard let user = try await store.user(id: id) else { return nil }
        await cache?.store(user)
        return user
    }

    /// Searches go to the store: pages are not cached.
    public func search(_ query: UserSearchQuery) async throws(UserError) -> [User] {
        try await store.search(query)
    }

    /// The same repository with synchronous methods, when neither the store nor the cache can block.
    public var nonBlocking: NonBlockingUserRepository? {
        guard let store = store as? any NonBlockingUserStore else { return nil }
        if let cache {
            guard let cache = cache as? any NonBlockingUserCache else { return nil }
            return NonBlockingUserRepository(store: store, cache: cache)
        }
        return NonBlockingUserRepository(store: store, cache: nil)
    }
}

/// ``UserRepository`` over adapters that never block, for callers that must not suspend (an event loop).
///
/// A class, so that the event loop's per-call path borrows it instead of copying its two existentials.
public final class NonBlockingUserRepository: Sendable {
    public let store: any NonBlockingUserStore
    public let cache: (any NonBlockingUserCache)?

    public init(store: any NonBlockingUserStore, cache: (any NonBlockingUserCache)?) {
        self.store = store
        self.cache = cache
    }

    public func add(_ user: User) throws(UserError) {
        try store.insertNow(user)
        cache?.storeNow(user)
    }

    public func user(id: UUID) throws(UserError) -> User? {
        if let cache, let cached = cache.userNow(id: id) { return cached }
        guard let user = try store.userNow(id: id) else { return nil }
        cache?.storeNow(user)
        return user
    }

    public func search(_ query: UserSearchQuery) throws(UserError) -> [User] {
        try store.searchNow(query)
    }
}
