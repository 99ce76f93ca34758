#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Orchestrates a store and an optional cache: cache-aside reads, cache priming after a committed
/// insert. Synchronous and shaped for batches, like the ports; ``execution`` says where it runs.
public struct UserRepository: Sendable {
    public let store: any UserStore
    public let cache: (any UserCache)?
    /// Where the repository's reads run: inline when neither the store nor the cache blocks;
    /// otherwise on the store's threads (or the cache's, in front of a store that never blocks).
    public let execution: StorageExecution
    /// Where its writes run, by the same rule with the store's ``UserStore/writeExecution``.
    public let writeExecution: StorageExecution

    public init(store: any UserStore, cache: (any UserCache)? = nil) {
        self.store = store
        self.cache = cache
        func combined(_ storeExecution: StorageExecution) -> StorageExecution {
            storeExecution.executor != nil ? storeExecution : (cache?.execution ?? .inline)
        }
        execution = combined(store.execution)
        writeExecution = combined(store.writeExecution)
    }

    /// Inserts each user on its own, then primes the cache with the ones committed: the cache never
    /// holds a user the store has not committed.
    public func add(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>] {
        let results = store.insert(users, cancellation: cancellation)
        if let cache {
            let committed = zip(users, results).compactMap { user, result in (try? result.get()).map { user } }
            if !committed.isEmpty { cache.fill(committed) }
        }
        return results
    }

    /// One user by id, or `nil`, by the same rule as ``users(ids:cancellation:found:)``.
    public func user(id: UUID, cancellation: CallCancellation?) throws(UserError) -> (user: User?, fillCache: (@Sendable () -> Void)?) {
        guard cache != nil else { return (try store.user(id: id, cancellation: cancellation), nil) }
        var user: User?
        let fill = try users(ids: CollectionOfOne(id), cancellation: cancellation) { user = $0 }
        return (user, fill)
    }

    /// Cache-aside: calls `found` with each user among `ids`, from the cache, then from the store for
    /// the misses. Returns the cache fill for the users the store returned, for the caller to run
    /// once it has answered (`nil` when there is nothing to fill).
    public func users<IDs: Collection<UUID>>(
        ids: IDs, cancellation: CallCancellation?, found: (User) -> Void
    ) throws(UserError) -> (@Sendable () -> Void)? {
        guard let cache else {
            try store.users(ids: ids, cancellation: cancellation, found: found)
            return nil
        }
        var hits = Set<UUID>()
        cache.users(ids: ids) { user in
            hits.insert(user.id)
            found(user)
        }
        let missing = ids.filter { !hits.contains($0) }
        guard !missing.isEmpty else { return nil }
        var loaded: [User] = []
        try store.users(ids: missing, cancellation: cancellation) { user in
            loaded.append(user)
            found(user)
        }
        guard !loaded.isEmpty else { return nil }
        let fill = loaded
        return { cache.fill(fill) }
    }

    /// Replaces `current` with `changed` in the store (compare-and-set by version), then rewrites
    /// its cache entry before the call is answered: no reader of the cache sees it unchanged afterwards.
    public func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
        let stored = try store.replace(current, with: changed, cancellation: cancellation)
        cache?.store([stored])
        return stored
    }

    /// Deletes `user` in the store (if still at its version), then marks it deleted in the cache
    /// before the call is answered.
    public func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
        try store.delete(user, cancellation: cancellation)
        cache?.storeDeleted([user])
    }

    /// Searches go to the store: pages are not cached.
    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
        try store.search(query, cancellation: cancellation)
    }
}
