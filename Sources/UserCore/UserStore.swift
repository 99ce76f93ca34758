#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The port to where users are kept for good (the embedded store, PostgreSQL).
///
/// Uniqueness of username and email (case-insensitive) is the store's to decide, atomically with the insert.
public protocol UserStore: Sendable {
    /// Adds a user; throws ``UserError/alreadyExists(field:)`` when the username or email is taken.
    func insert(_ user: User) async throws(UserError)
    /// The user with this id, or `nil`.
    func user(id: UUID) async throws(UserError) -> User?
    /// Up to `query.limit + 1` matching users after `query.after`, ordered by (lower(username), id).
    func search(_ query: UserSearchQuery) async throws(UserError) -> [User]
}

/// A store whose operations never block: they may run inline on an event loop, with no task hop.
public protocol NonBlockingUserStore: UserStore {
    func insertNow(_ user: User) throws(UserError)
    func userNow(id: UUID) throws(UserError) -> User?
    func searchNow(_ query: UserSearchQuery) throws(UserError) -> [User]
}

extension NonBlockingUserStore {
    public func insert(_ user: User) async throws(UserError) { try insertNow(user) }
    public func user(id: UUID) async throws(UserError) -> User? { try userNow(id: id) }
    public func search(_ query: UserSearchQuery) async throws(UserError) -> [User] { try searchNow(query) }
}
