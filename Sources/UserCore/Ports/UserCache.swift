#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The port to a cache of users by id (Redis, or in memory).
///
/// A cache is an optimisation, never a point of failure: its methods do not throw. An adapter that
/// cannot reach its backend answers "miss" and drops writes.
public protocol UserCache: Sendable {
    /// Where calls to this cache run.
    var execution: StorageExecution { get }
    /// Calls `found` with each cached user among `ids` (a miss is simply not reported).
    func users(ids: some Collection<UUID>, found: (User) -> Void)
    /// Caches `users` under their ids — each unless the cache holds a later version of it, or its
    /// deletion: a read that raced with a change can never put the older user back.
    func store(_ users: [User])
    /// Caches users just read from the store after a miss, or just registered: each only where the
    /// cache holds no entry for it. An entry found there is a change's or a deletion's (or another
    /// fill's), never older than what the store returned, so it is kept. By default ``store(_:)``.
    func fill(_ users: [User])
    /// Records that these users are gone (the version each had when it was deleted), so that no read
    /// that raced with the deletion puts them back; they read as misses.
    func storeDeleted(_ users: [User])
    /// What is wrong with the cache's backend now, for a health probe (it runs where the cache's
    /// calls run), or `nil` when it answers. By default `nil`.
    func unavailability() -> String?
}

extension UserCache {
    public func fill(_ users: [User]) { store(users) }
    public func unavailability() -> String? { nil }
}
