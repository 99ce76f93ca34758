#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A cache in memory: for unit tests of the repository, and as a stand-in where Redis is not configured.
///
/// It keeps at most `capacity` users and forgets the oldest entry when full.
public final class InMemoryUserCache: UserCache {
    private struct State {
        var users: [UUID: User] = [:]
        /// Deleted users' tombstones, by the rank of their deletion (``CacheEntryRank``).
        var deleted: [UUID: UInt64] = [:]
        var insertionOrder: [UUID] = []
        var hits = 0
        var misses = 0

        /// The rank of the entry held for `id` (a user or a tombstone), `nil` when there is none.
        func rank(of id: UUID) -> UInt64? {
            deleted[id] ?? users[id].map(CacheEntryRank.of)
        }
    }

    private let state = ReadWriteLocked(State())
    public let capacity: Int

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Never blocks: calls run on the caller's thread.
    public var execution: StorageExecution { .inline }

    public func users(ids: some Collection<UUID>, found: (User) -> Void) {
        state.write { state in
            for id in ids {
                if let user = state.users[id] {
                    state.hits += 1
                    found(user)
                } else {
                    state.misses += 1
                }
            }
        }
    }

    public func store(_ users: [User]) {
        state.write { state in
            for user in users {
                guard CacheEntryRank.replaces(CacheEntryRank.of(user), over: state.rank(of: user.id)) else { continue }
                state.deleted[user.id] = nil
                if state.users.updateValue(user, forKey: user.id) == nil {
                    state.insertionOrder.append(user.id)
                    if state.insertionOrder.count > capacity {
                        state.users[state.insertionOrder.removeFirst()] = nil
                    }
                }
            }
        }
    }

    public func storeDeleted(_ users: [User]) {
        state.write { state in
            for user in users {
                let rank = CacheEntryRank.ofDeletion(user)
                guard CacheEntryRank.replaces(rank, over: state.rank(of: user.id)) else { continue }
                state.users[user.id] = nil
                state.deleted[user.id] = rank
            }
        }
    }

    /// Hits and misses so far, for tests.
    public var statistics: (hits: Int, misses: Int) { state.read { ($0.hits, $0.misses) } }

    /// Whether the cache holds a user for this id, without counting a hit or miss.
    public func contains(id: UUID) -> Bool { state.read { $0.users[id] != nil } }
}
