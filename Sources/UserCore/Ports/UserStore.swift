#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The port to where users are kept for good (the embedded store, PostgreSQL).
///
/// Shaped for batches — a single call is a batch of one — and synchronous: a store that never
/// blocks says so with ``execution`` `.inline` and is called on the event loop; one that blocks is
/// called on its own threads. Uniqueness of username and email (case-insensitive) is the store's to
/// decide, atomically with the insert.
public protocol UserStore: Sendable {
    /// Where reads (`users(ids:)`, `search`) run.
    var execution: StorageExecution { get }
    /// Where writes (`insert`, `update`, `delete`) run; by default where reads do. A store that
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
    /// Applies each change on its own, atomically with its version test and uniqueness check: for
    /// each, the user as it is after the change (unchanged, same version, when it changes nothing),
    /// or ``UserError/notFound(id:)``, ``UserError/versionMismatch(id:current:)``,
    /// ``UserError/alreadyExists(field:)``.
    func update(_ changes: [UserChange], cancellation: CallCancellation?) -> [Result<User, UserError>]
    /// Deletes each user on its own, atomically with its version test: for each, the user as it was,
    /// or ``UserError/notFound(id:)``, ``UserError/versionMismatch(id:current:)``. A deleted user's
    /// username and email are free at once.
    func delete(_ deletions: [UserDeletion], cancellation: CallCancellation?) -> [Result<User, UserError>]
    /// Checks that the store can serve calls now (a health probe), where reads run: throws what a
    /// call would meet (``UserError/unavailable(_:)`` when the database cannot be reached). By
    /// default a search for one user.
    func checkAvailable(cancellation: CallCancellation?) throws(UserError)
    /// The key page tokens are signed with: the same for every server of a store that is shared
    /// (made once, kept in the store). Blocking; called once, when the service is set up.
    func pageTokenKey() throws(UserError) -> [UInt8]
}

extension UserStore {
    public var writeExecution: StorageExecution { execution }

    public func checkAvailable(cancellation: CallCancellation?) throws(UserError) {
        _ = try search(UserSearchQuery(limit: 1), cancellation: cancellation)
    }

    public func user(id: UUID, cancellation: CallCancellation?) throws(UserError) -> User? {
        var user: User?
        try users(ids: CollectionOfOne(id), cancellation: cancellation) { user = $0 }
        return user
    }
}
