import UserV1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Registers users: validates the request, makes the entity (a version 7 id, the current time) and adds it.
public struct UserRegistrationLogic: Sendable {
    public let repository: UserRepository
    /// The repository's synchronous view, looked up once (it involves dynamic casts).
    private let nonBlockingRepository: NonBlockingUserRepository?
    /// The repository's blocking view, looked up once.
    public let blockingRepository: BlockingUserRepository?
    private let now: @Sendable () -> Date

    /// - Parameter now: the clock; tests may pin it.
    public init(repository: UserRepository, now: @escaping @Sendable () -> Date = { Date() }) {
        self.repository = repository
        self.nonBlockingRepository = repository.nonBlocking
        self.blockingRepository = repository.blocking
        self.now = now
    }

    public func register(_ request: RegisterUserRequest) async throws(UserError) -> UserV1.User {
        let user = try makeUser(request)
        try await repository.add(user)
        return user.v1
    }

    /// ``register(_:)`` without suspending, when the repository never blocks (the embedded store).
    /// Returns `nil` when it cannot run synchronously.
    public func registerWithoutBlocking(_ request: RegisterUserRequest) -> Result<UserV1.User, UserError>? {
        guard let repository = nonBlockingRepository else { return nil }
        return Result { () throws(UserError) in
            let user = try makeUser(request)
            try repository.add(user)
            return user.v1
        }
    }

    /// Registers users made by ``makeUser(_:)``, several at once, on a thread that may block: for
    /// each, in order, the user or why it was refused (each succeeds or fails on its own).
    public func registerBlocking(_ users: [User], cancellation: CallCancellation) -> [Result<User, UserError>] {
        guard let repository = blockingRepository else { return users.map { _ in .failure(.internalError("no blocking path")) } }
        return zip(users, repository.add(users, cancellation: cancellation)).map { user, result in result.map { user } }
    }

    /// Validates `request` and makes the new user it asks for, without storing it (for callers that
    /// store several at once through ``registerBlocking(_:cancellation:)``).
    public func makeUser(_ request: RegisterUserRequest) throws(UserError) -> User {
        let violations = UserValidation.violations(in: request)
        guard violations.isEmpty else { throw .invalidArgument(violations) }
        let createdAt = RFC3339.truncatedToMilliseconds(now())
        return User(id: .version7(at: createdAt), username: request.username, email: request.email, createdAt: createdAt)
    }
}
