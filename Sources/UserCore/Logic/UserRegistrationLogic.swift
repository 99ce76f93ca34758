import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Registers users: validates the fields, makes the entity (a version 7 id, the current time) and
/// adds it. Written for batches; a single registration is a batch of one.
public struct UserRegistrationLogic: Sendable {
    public let repository: UserRepository
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock; tests may pin it.
    public init(repository: UserRepository, now: @escaping @Sendable () -> Date = { Date() }) {
        self.repository = repository
        self.now = now
    }

    /// Validates a registration and makes the new user it asks for, without storing it.
    public func makeUser(username: String, email: String) throws(UserError) -> User {
        let problems = UserValidation.registrationProblems(username: username, email: email)
        guard problems.isEmpty else { throw .invalidArgument(problems) }
        let createdAt = RFC3339.truncatedToMilliseconds(now())
        return User(id: .version7(at: createdAt), username: username, email: email, createdAt: createdAt)
    }

    /// Stores users made by ``makeUser(username:email:)``: for each, in order, the user or why it was
    /// refused (each succeeds or fails on its own).
    public func register(_ users: [User], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        zip(users, repository.add(users, cancellation: cancellation)).map { user, result in result.map { user } }
    }
}
