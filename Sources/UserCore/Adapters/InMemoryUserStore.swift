#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The embedded store: users in memory, for a server with no set-up and for tests. Nothing survives a restart.
///
/// Reads share a reader-writer lock; only writes take it exclusively, so concurrent GetUser calls do not
/// serialize. Search walks an index sorted by (lower(username), id).
public final class InMemoryUserStore: UserStore {
    private struct State {
        var byID: [UUID: User] = [:]
        var usernameKeys: Set<String> = []
        var emailKeys: [String: UUID] = [:]
        /// Sorted by (lower(username), id): the order of search results.
        var ordered: [UserSearchCursor] = []
    }

    private let state = ReadWriteLocked(State())

    public init() {}

    /// A store holding `users` at once (their usernames and emails must be unique, as they are in the
    /// durable store they were read from). Builds the search index in one sort, not one insert each.
    public init(loading users: [User]) {
        var state = State()
        state.byID.reserveCapacity(users.count)
        state.emailKeys.reserveCapacity(users.count)
        state.usernameKeys.reserveCapacity(users.count)
        state.ordered.reserveCapacity(users.count)
        for user in users {
            let cursor = UserSearchCursor(user)
            state.byID[user.id] = user
            state.usernameKeys.insert(cursor.usernameKey)
            state.emailKeys[user.emailKey] = user.id
            state.ordered.append(cursor)
        }
        state.ordered.sort()
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
            if state.usernameKeys.contains(cursor.usernameKey) { throw .alreadyExists(field: "username") }
            if state.emailKeys[emailKey] != nil { throw .alreadyExists(field: "email") }
            state.byID[user.id] = user
            state.usernameKeys.insert(cursor.usernameKey)
            state.emailKeys[emailKey] = user.id
            state.ordered.insert(cursor, at: Self.insertionIndex(of: cursor, in: state.ordered))
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

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
        state.read { state in
            let wanted = query.limit + 1
            if let email = query.email {
                // Email is unique: at most one candidate.
                let candidates = state.emailKeys[email].flatMap { state.byID[$0] }.map { [$0] } ?? []
                return candidates.filter { user in
                    query.matches(user) && (query.after.map { $0 < UserSearchCursor(user) } ?? true)
                }
            }
            var start = 0
            if let prefix = query.usernamePrefix, !prefix.isEmpty {
                start = Self.insertionIndex(of: UserSearchCursor(usernameKey: prefix, id: Self.smallestID), in: state.ordered)
            }
            if let after = query.after {
                var afterIndex = Self.insertionIndex(of: after, in: state.ordered)
                if afterIndex < state.ordered.count, state.ordered[afterIndex] == after { afterIndex += 1 }
                start = max(start, afterIndex)
            }
            var results: [User] = []
            var index = start
            while index < state.ordered.count, results.count < wanted {
                let key = state.ordered[index]
                // Sorted order: once past the prefix range, nothing later matches.
                if let prefix = query.usernamePrefix, !prefix.isEmpty, !key.usernameKey.hasPrefix(prefix) { break }
                if let user = state.byID[key.id] { results.append(user) }
                index += 1
            }
            return results
        }
    }

    public func update(_ changes: [UserChange], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        changes.map { change in Result { () throws(UserError) in try update(change) } }
    }

    /// Applies one change (see ``UserStore/update(_:cancellation:)``).
    public func update(_ change: UserChange) throws(UserError) -> User {
        try state.write { (state: inout State) throws(UserError) in
            guard let user = state.byID[change.id] else { throw .notFound(id: change.id) }
            if let expected = change.expectedVersion, expected != user.version {
                throw .versionMismatch(id: user.id, current: user.version)
            }
            let changed = change.applied(to: user)
            guard changed != user else { return user }
            let old = UserSearchCursor(user)
            let new = UserSearchCursor(changed)
            if new.usernameKey != old.usernameKey, state.usernameKeys.contains(new.usernameKey) { throw .alreadyExists(field: "username") }
            if changed.emailKey != user.emailKey, state.emailKeys[changed.emailKey] != nil { throw .alreadyExists(field: "email") }
            state.byID[user.id] = changed
            state.usernameKeys.remove(old.usernameKey)
            state.usernameKeys.insert(new.usernameKey)
            state.emailKeys[user.emailKey] = nil
            state.emailKeys[changed.emailKey] = user.id
            if new != old {
                state.ordered.remove(at: Self.insertionIndex(of: old, in: state.ordered))
                state.ordered.insert(new, at: Self.insertionIndex(of: new, in: state.ordered))
            }
            return changed
        }
    }

    public func delete(_ deletions: [UserDeletion], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        deletions.map { deletion in Result { () throws(UserError) in try delete(deletion) } }
    }

    /// Deletes one user (see ``UserStore/delete(_:cancellation:)``).
    public func delete(_ deletion: UserDeletion) throws(UserError) -> User {
        try state.write { (state: inout State) throws(UserError) in
            guard let user = state.byID[deletion.id] else { throw .notFound(id: deletion.id) }
            if let expected = deletion.expectedVersion, expected != user.version {
                throw .versionMismatch(id: user.id, current: user.version)
            }
            let cursor = UserSearchCursor(user)
            state.byID[user.id] = nil
            state.usernameKeys.remove(cursor.usernameKey)
            state.emailKeys[user.emailKey] = nil
            state.ordered.remove(at: Self.insertionIndex(of: cursor, in: state.ordered))
            return user
        }
    }

    /// Whether a user has this lower-cased username.
    public func hasUsername(key: String) -> Bool { state.read { $0.usernameKeys.contains(key) } }

    /// Whether a user has this lower-cased email.
    public func hasEmail(key: String) -> Bool { state.read { $0.emailKeys[key] != nil } }

    /// The number of users stored.
    public var count: Int { state.read { $0.byID.count } }

    private static let smallestID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    private static func insertionIndex(of cursor: UserSearchCursor, in ordered: [UserSearchCursor]) -> Int {
        var low = 0
        var high = ordered.count
        while low < high {
            let mid = (low + high) / 2
            if ordered[mid] < cursor { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
