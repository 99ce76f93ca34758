#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Users in memory: the `--in-memory` store (nothing survives a restart), and the index the durable
/// embedded store answers reads from.
///
/// Reads share a reader-writer lock; only writes take it exclusively, so concurrent GetUser calls do not
/// serialize. Search walks an index sorted by (lower(username), id), kept in chunks so that a write
/// moves a few kilobytes, whatever the number of users.
public final class InMemoryUserStore: UserStore {
    private struct State {
        var byID: [UUID: User] = [:]
        var usernameKeys: Set<String> = []
        var emailKeys: [FoldedKey: UUID] = [:]
        /// Sorted by (lower(username), id): the order of search results.
        var ordered = SortedChunks<UserSearchCursor>()
    }

    private let state = ReadWriteLocked(State())
    /// Made at random: nothing outlives the process, and no other process shares the store.
    private let tokenKey = PageTokens.randomKey()

    public func pageTokenKey() -> [UInt8] { tokenKey }

    /// Each committed change, appended under the write lock (so in commit order); `nil` for the index
    /// of a durable store, which keeps its own.
    public let changeFeed: UserChangeFeed?

    /// An empty store whose changes go to `changeFeed` (a feed of its own by default).
    public init(changeFeed: UserChangeFeed? = UserChangeFeed()) {
        self.changeFeed = changeFeed
    }

    /// A store holding `users` at once (their usernames and emails must be unique, as they are in the
    /// durable store they were read from). Builds the search index in one sort, not one insert each.
    public init(loading users: [User]) {
        changeFeed = nil
        var state = State()
        state.byID.reserveCapacity(users.count)
        state.emailKeys.reserveCapacity(users.count)
        state.usernameKeys.reserveCapacity(users.count)
        var ordered: [UserSearchCursor] = []
        ordered.reserveCapacity(users.count)
        for user in users {
            let cursor = UserSearchCursor(user)
            state.byID[user.id] = user
            state.usernameKeys.insert(cursor.usernameKey)
            state.emailKeys[user.emailKey] = user.id
            ordered.append(cursor)
        }
        ordered.sort()
        state.ordered = SortedChunks(sorted: ordered)
        self.state.write { $0 = state }
    }

    /// Never blocks: calls run on the caller's thread.
    public var execution: StorageExecution { .inline }

    public func insert(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>] {
        users.map { user in Result { () throws(UserError) in try insert(user) } }
    }

    /// Inserts one user; throws ``UserError/alreadyExists(field:)`` when the username or email is taken.
    public func insert(_ user: User) throws(UserError) {
        let cursor = UserSearchCursor(user)
        let emailKey = user.emailKey
        try state.write { (state: inout State) throws(UserError) in
            if state.byID[user.id] != nil { throw .alreadyExists(field: "id") }
            if state.usernameKeys.contains(cursor.usernameKey) { throw .alreadyExists(field: "username") }
            if state.emailKeys[emailKey] != nil { throw .alreadyExists(field: "email") }
            state.byID[user.id] = user
            state.usernameKeys.insert(cursor.usernameKey)
            state.emailKeys[emailKey] = user.id
            state.ordered.insert(cursor)
            changeFeed?.append(.registered, user)
        }
    }

    public func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (User) -> Void) throws(UserError) {
        state.read { state in
            for id in ids {
                if let user = state.byID[id] { found(user) }
            }
        }
    }

    /// The user with this id, or `nil`.
    public func user(id: UUID) -> User? {
        state.read { $0.byID[id] }
    }

    public func user(id: UUID, cancellation: CallCancellation?) -> User? {
        state.read { $0.byID[id] }
    }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
        state.read { state in
            let wanted = query.limit + 1
            if let email = query.email {
                // Email is unique: at most one candidate.
                let candidates = state.emailKeys[FoldedKey(email)].flatMap { state.byID[$0] }.map { [$0] } ?? []
                return candidates.filter { user in
                    query.matches(user) && (query.after.map { $0 < UserSearchCursor(user) } ?? true)
                }
            }
            var start = state.ordered.startIndex
            if let prefix = query.usernamePrefix, !prefix.isEmpty {
                start = state.ordered.lowerBound(UserSearchCursor(usernameKey: prefix, id: Self.smallestID))
            }
            if let after = query.after {
                var afterPosition = state.ordered.lowerBound(after)
                if state.ordered.element(at: afterPosition) == after { afterPosition = state.ordered.position(after: afterPosition) }
                start = max(start, afterPosition)
            }
            var results: [User] = []
            guard wanted > 0 else { return results }
            state.ordered.forEach(from: start) { key in
                // Sorted order: once past the prefix range, nothing later matches.
                if let prefix = query.usernamePrefix, !prefix.isEmpty, !key.usernameKey.hasPrefix(prefix) { return false }
                if let user = state.byID[key.id] { results.append(user) }
                return results.count < wanted
            }
            return results
        }
    }

    public func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
        try replace(current, with: changed)
    }

    /// Compare-and-set (see ``UserStore/replace(_:with:cancellation:)``).
    public func replace(_ current: User, with changed: User) throws(UserError) -> User {
        try state.write { (state: inout State) throws(UserError) in
            let stored = try Self.stored(current, in: state)
            let old = UserSearchCursor(stored)
            let new = UserSearchCursor(changed)
            if new.usernameKey != old.usernameKey, state.usernameKeys.contains(new.usernameKey) { throw .alreadyExists(field: "username") }
            if changed.emailKey != stored.emailKey, state.emailKeys[changed.emailKey] != nil { throw .alreadyExists(field: "email") }
            state.byID[stored.id] = changed
            state.usernameKeys.remove(old.usernameKey)
            state.usernameKeys.insert(new.usernameKey)
            state.emailKeys[stored.emailKey] = nil
            state.emailKeys[changed.emailKey] = stored.id
            if new != old {
                state.ordered.remove(old)
                state.ordered.insert(new)
            }
            changeFeed?.append(.updated, changed)
            return changed
        }
    }

    public func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
        try delete(user)
    }

    /// Compare-and-delete (see ``UserStore/delete(_:cancellation:)``).
    public func delete(_ user: User) throws(UserError) {
        try state.write { (state: inout State) throws(UserError) in
            let stored = try Self.stored(user, in: state)
            let cursor = UserSearchCursor(stored)
            state.byID[stored.id] = nil
            state.usernameKeys.remove(cursor.usernameKey)
            state.emailKeys[stored.emailKey] = nil
            state.ordered.remove(cursor)
            changeFeed?.append(.deleted, stored)
        }
    }

    /// The stored user, if it is still exactly `user` as it was read: the same version of the same
    /// registration (a user deleted and registered again under its id, with an idempotency key,
    /// starts again at version 1, so the version alone does not tell the two apart).
    private static func stored(_ user: User, in state: State) throws(UserError) -> User {
        guard let stored = state.byID[user.id] else { throw .notFound(id: user.id) }
        guard stored == user else { throw .versionMismatch(id: user.id, current: stored.version) }
        return stored
    }

    /// Whether a user has this lower-cased username.
    public func hasUsername(key: String) -> Bool { state.read { $0.usernameKeys.contains(key) } }

    /// Whether a user has this lower-cased email.
    public func hasEmail(key: FoldedKey) -> Bool { state.read { $0.emailKeys[key] != nil } }

    /// The number of users stored.
    public var count: Int { state.read { $0.byID.count } }

    private static let smallestID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
}
