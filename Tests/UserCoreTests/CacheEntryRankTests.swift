import Foundation
import Testing
import UserCore

@Suite("The cache's one ordering rule")
struct CacheEntryRankTests {
    static func user(version: UInt64) -> User {
        User(
            id: UUID(uuidString: "00000000-0000-7000-8000-00000000000a")!, username: "ada", email: "ada@example.com",
            createdAt: Date(timeIntervalSince1970: 0), version: version)
    }

    /// What the cache holds for `id`.
    static func cached(_ cache: InMemoryUserCache, _ id: UUID) -> [User] {
        var found: [User] = []
        cache.users(ids: [id]) { found.append($0) }
        return found
    }

    @Test("a later version replaces an earlier one, a deletion replaces its version, nothing replaces a deletion or a later version")
    func order() {
        let (v1, v2) = (Self.user(version: 1), Self.user(version: 2))
        #expect(CacheEntryRank.replaces(CacheEntryRank.of(v1), over: nil))
        #expect(CacheEntryRank.replaces(CacheEntryRank.of(v2), over: CacheEntryRank.of(v1)))
        #expect(!CacheEntryRank.replaces(CacheEntryRank.of(v1), over: CacheEntryRank.of(v2)))
        #expect(!CacheEntryRank.replaces(CacheEntryRank.of(v2), over: CacheEntryRank.of(v2)))
        #expect(CacheEntryRank.replaces(CacheEntryRank.ofDeletion(v2), over: CacheEntryRank.of(v2)))
        #expect(!CacheEntryRank.replaces(CacheEntryRank.of(v2), over: CacheEntryRank.ofDeletion(v2)))
        #expect(!CacheEntryRank.replaces(CacheEntryRank.of(v1), over: CacheEntryRank.ofDeletion(v1)))
    }

    @Test("the in-memory cache follows it: a stale fill after a change or a deletion is ignored")
    func inMemoryCache() {
        let cache = InMemoryUserCache()
        let (v1, v2) = (Self.user(version: 1), Self.user(version: 2))
        cache.store([v2])
        cache.fill([v1])
        #expect(Self.cached(cache, v1.id) == [v2])
        cache.storeDeleted([v2])
        cache.store([v2])
        #expect(!cache.contains(id: v1.id))
    }
}

extension CacheEntryRankTests {
    @Test("in memory, a tombstone then a later version then a stale fill: the later version stays; a stale tombstone is ignored")
    func tombstoneThenLaterVersion() {
        let cache = InMemoryUserCache()
        let (v1, v2, v3) = (Self.user(version: 1), Self.user(version: 2), Self.user(version: 3))
        cache.storeDeleted([v1])
        cache.store([v3])
        cache.store([v2])
        #expect(Self.cached(cache, v1.id) == [v3])
        cache.storeDeleted([v2])
        #expect(Self.cached(cache, v1.id) == [v3])
    }
}
