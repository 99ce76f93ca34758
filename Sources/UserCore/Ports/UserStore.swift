#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The port to where users are kept for good (the embedded store, PostgreSQL).
///
/// Reads by id and inserts take batches (the calls of GetUser and RegisterUser are gathered);
/// changes and deletions are one compare-and-set each. Synchronous: a store that never blocks says
/// so with ``execution`` `.inline` and is called on the event loop; one that blocks is called on its
/// own threads. Uniqueness of username and email (case-insensitive) is the store's to decide,
/// atomically with the write; what a change does is the domain's (``UserChangeLogic``).
public protocol UserStore: Sendable {
    /// Where reads (`users(ids:)`, `search`) run.
    var execution: StorageExecution { get }
    /// Where writes (`insert`, `replace`, `delete`) run; by default where reads do. A store that
    /// answers reads from memory but makes writes durable on disk reads inline and writes on threads.
    var writeExecution: StorageExecution { get }
    /// Inserts each user on its own (one failing does not affect the others): one result per user,
    /// in order; ``UserError/alreadyExists(field:)`` when the username or email is taken.
    func insert(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>]
    /// Calls `found` with each user whose id is among `ids`, in no particular order.
    func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (User) -> Void) throws(UserError)
    /// The user with this id, or `nil`: a batch of one, without a generic collection (the hot path of
    /// a store that answers from memory). By default ``users(ids:cancellation:found:)`` with one id.
    func user(id: UUID, cancellation: CallCancellation?) throws(UserError) -> User?
    /// Up to `query.limit + 1` matching users after `query.after`, ordered by (lower(username), id).
    func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User]
    /// Compare-and-set: replaces `current` (the user as read from this store) with `changed` (the
    /// same id), atomically, only if the stored user is still `current` (its version of the same
    /// registration: one deleted and registered again under its id starts again at 1), and checking
    /// that `changed`'s username and email are free. Returns `changed`; throws
    /// ``UserError/versionMismatch(id:current:)`` when the stored user has moved on,
    /// ``UserError/notFound(id:)`` when it is gone, ``UserError/alreadyExists(field:)``.
    ///
    /// The store decides nothing else: what a change does to a user, and when a version is tested,
    /// is the domain's (``UserChangeLogic``), written once for every store.
    func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User
    /// Compare-and-delete: deletes `user` only if the stored user is still `user` (as for
    /// ``replace(_:with:cancellation:)``);
    /// throws ``UserError/versionMismatch(id:current:)`` or ``UserError/notFound(id:)`` otherwise. A
    /// deleted user's username and email are free at once.
    func delete(_ user: User, cancellation: CallCancellation?) throws(UserError)
    /// Checks that the store can serve calls now (a health probe), where reads run: throws what a
    /// call would meet (``UserError/unavailable(_:)`` when the database cannot be reached). By
    /// default a search for one user.
    func checkAvailable(cancellation: CallCancellation?) throws(UserError)
    /// The key page tokens are signed with: the same for every server of a store that is shared
    /// (made once, kept in the store). Blocking; called once, when the service is set up.
    func pageTokenKey() throws(UserError) -> [UInt8]
    /// Every committed change, in commit order, for watchers (`WatchUsers`); `nil` when the store
    /// keeps none. A store appends a change only once it is committed (durable, for a durable store),
    /// and never one whose write failed.
    var changeFeed: UserChangeFeed? { get }
}

extension UserStore {
    public var writeExecution: StorageExecution { execution }

    public var changeFeed: UserChangeFeed? { nil }

    public func checkAvailable(cancellation: CallCancellation?) throws(UserError) {
        _ = try search(UserSearchQuery(limit: 1), cancellation: cancellation)
    }

    public func user(id: UUID, cancellation: CallCancellation?) throws(UserError) -> User? {
        var user: User?
        try users(ids: CollectionOfOne(id), cancellation: cancellation) { user = $0 }
        return user
    }
}
