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
    /// The cached user, or `nil` on a miss.
    func user(id: UUID) async -> User?
    /// Caches `user` under its id.
    func store(_ user: User) async
}

/// A cache whose operations never block: they may run inline on an event loop.
public protocol NonBlockingUserCache: UserCache {
    func userNow(id: UUID) -> User?
    func storeNow(_ user: User)
}

extension NonBlockingUserCache {
    public func user(id: UUID) async -> User? { userNow(id: id) }
    public func store(_ user: User) async { storeNow(user) }
}
