import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Changes and deletes users: validates what a call asks for, decides what the change does (the
/// version and update rules, here only), then writes it by the store's compare-and-set and rewrites
/// the cache.
public struct UserChangeLogic: Sendable {
    public let repository: UserRepository
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock for ``User/updatedAt``; tests may pin it.
    public init(repository: UserRepository, now: @escaping @Sendable () -> Date = { Date() }) {
        self.repository = repository
        self.now = now
    }

    /// Validates an update: at least one of the fields, each by the registration rules.
    public func makeChange(id: UUID, username: String?, email: String?, expectedVersion: UInt64?) throws(UserError) -> UserChange {
        var problems: [InvalidField] = []
        if username == nil && email == nil {
            problems.append(InvalidField(field: "username", description: "or email is required: an update changes at least one of them"))
        }
        if let username, let problem = UserValidation.usernameProblem(username) {
            problems.append(InvalidField(field: "username", description: problem))
        }
        if let email, let problem = UserValidation.emailProblem(email) {
            problems.append(InvalidField(field: "email", description: problem))
        }
        guard problems.isEmpty else { throw .invalidArgument(problems) }
        return UserChange(
            id: id, username: username, email: email, expectedVersion: expectedVersion, at: RFC3339.truncatedToMilliseconds(now()))
    }

    /// Applies a change made by ``makeChange(id:username:email:expectedVersion:)``: the user as it
    /// is now, or why the change was refused. The rules live here, once for every store: an unknown
    /// id is NOT_FOUND; with `expectedVersion`, a user at another version is ABORTED; a change that
    /// changes nothing answers the user as it is (``UserChange/applied(to:)``); anything else is
    /// written by the store's compare-and-set. Without `expectedVersion` the last writer wins: a
    /// write that lost a race to another is applied again to what that one wrote, for as long as the
    /// call lasts (every lost race is another call's progress, so the loop ends).
    public func update(_ change: UserChange, cancellation: CallCancellation?) throws(UserError) -> User {
        try compareAndSet(change.id, expectedVersion: change.expectedVersion, cancellation: cancellation) { user throws(UserError) in
            let changed = change.applied(to: user)
            if changed == user { return user }
            return try repository.replace(user, with: changed, cancellation: cancellation)
        }
    }

    /// Deletes a user: the user as it was, or why it was not deleted (NOT_FOUND; ABORTED when
    /// `expectedVersion` is given and the user is at another). Without `expectedVersion` a deletion
    /// that lost a race to a change deletes what the change wrote.
    public func delete(_ deletion: UserDeletion, cancellation: CallCancellation?) throws(UserError) -> User {
        try compareAndSet(deletion.id, expectedVersion: deletion.expectedVersion, cancellation: cancellation) { user throws(UserError) in
            try repository.delete(user, cancellation: cancellation)
            return user
        }
    }

    /// Reads the user as the store has it now, tests `expectedVersion` (when given), and runs
    /// `write` with it. When `write`'s compare-and-set loses to another write: with an expected
    /// version the call is ABORTED (the user is no longer at it); without one it reads and writes
    /// again, unless the call has ended meanwhile.
    private func compareAndSet(
        _ id: UUID, expectedVersion: UInt64?, cancellation: CallCancellation?, write: (User) throws(UserError) -> User
    ) throws(UserError) -> User {
        while true {
            guard let user = try repository.store.user(id: id, cancellation: cancellation) else { throw .notFound(id: id) }
            if let expectedVersion, expectedVersion != user.version { throw .versionMismatch(id: id, current: user.version) }
            do {
                return try write(user)
            } catch .versionMismatch(let id, let current) {
                if expectedVersion != nil { throw .versionMismatch(id: id, current: current) }
                if cancellation?.isCancelled == true { throw .cancelled }
            }
        }
    }
}
