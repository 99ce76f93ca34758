import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Changes and deletes users: validates what a call asks for, then applies it in the store (with its
/// version test) and in the cache. Written for batches; a single call is a batch of one.
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

    /// Applies changes made by ``makeChange(id:username:email:expectedVersion:)``: for each, in order,
    /// the user as it is now, or why the change was refused.
    public func update(_ changes: [UserChange], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        repository.update(changes, cancellation: cancellation)
    }

    /// Deletes users: for each, in order, the user as it was, or why it was not deleted.
    public func delete(_ deletions: [UserDeletion], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        repository.delete(deletions, cancellation: cancellation)
    }
}
