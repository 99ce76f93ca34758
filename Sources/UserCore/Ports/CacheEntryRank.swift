/// The one rule that orders the writes of a user's cache entry, in every cache: an entry's rank is
/// twice the user's version, plus one for its deletion (a tombstone), and a write replaces an entry
/// only when it ranks higher. So a user's later version replaces an earlier one, its deletion
/// replaces it, and nothing replaces a deletion or a later version: a read that raced with a change
/// can never put the older user back. `InMemoryUserCache` applies it in memory; `RedisUserCache`
/// writes the rank in front of each entry and has Redis compare the two numbers.
public enum CacheEntryRank {
    /// The rank of an entry holding `user`.
    public static func of(_ user: User) -> UInt64 { 2 * user.version }

    /// The rank of the tombstone of `user` (deleted at its version).
    public static func ofDeletion(_ user: User) -> UInt64 { 2 * user.version + 1 }

    /// Whether a write of rank `new` replaces an entry of rank `current` (`nil`: no entry).
    public static func replaces(_ new: UInt64, over current: UInt64?) -> Bool {
        guard let current else { return true }
        return new > current
    }
}
