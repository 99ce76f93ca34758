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

    /// How long a repeated idempotency key returns the registration it first made: 24 hours.
    public static let idempotencyWindow: TimeInterval = 24 * 60 * 60

    /// Validates a registration and makes the new user it asks for, without storing it.
    ///
    /// With an idempotency key, the user's id is derived from the key (``userID(idempotencyKey:)``)
    /// instead of being a new version 7 id: a repeated registration with the same key then collides
    /// with the first one in the store — in any store, and across every server sharing it — and
    /// ``register(_:cancellation:)`` answers it with the user the first one registered.
    public func makeUser(username: String, email: String, idempotencyKey: String? = nil) throws(UserError) -> User {
        var problems = UserValidation.registrationProblems(username: username, email: email)
        if let idempotencyKey, let problem = UserValidation.idempotencyKeyProblem(idempotencyKey) { problems.append(problem) }
        guard problems.isEmpty else { throw .invalidArgument(problems) }
        let createdAt = RFC3339.truncatedToMilliseconds(now())
        let id = idempotencyKey.map(Self.userID(idempotencyKey:)) ?? .version7(at: createdAt)
        return User(id: id, username: username, email: email, createdAt: createdAt)
    }

    /// The id of the user registered with an idempotency key: the first 16 bytes of
    /// SHA-256("user-rpc idempotency-key v1\0" + key) as a version 8 (custom) UUID (RFC 9562).
    public static func userID(idempotencyKey: String) -> UUID {
        var bytes = Digests.sha256(Array("user-rpc idempotency-key v1\0".utf8) + Array(idempotencyKey.utf8))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    /// Whether `user` was made with an idempotency key (its id is a version 8 UUID).
    static func isKeyed(_ user: User) -> Bool {
        user.id.uuid.6 >> 4 == 8
    }

    /// Stores users made by ``makeUser(username:email:idempotencyKey:)``: for each, in order, the user
    /// or why it was refused (each succeeds or fails on its own).
    ///
    /// A keyed registration that collides with a stored user of its id is a repeat: answered with the
    /// stored user when it is the same registration (username and email) within
    /// ``idempotencyWindow``, else refused ``UserError/idempotencyKeyReused(_:)``.
    public func register(_ users: [User], cancellation: CallCancellation?) -> [Result<User, UserError>] {
        var results = zip(users, repository.add(users, cancellation: cancellation)).map { user, result in result.map { user } }
        for (index, user) in users.enumerated() where Self.isKeyed(user) {
            guard case .failure(.alreadyExists) = results[index] else { continue }
            let stored: User?
            do throws(UserError) {
                stored = try repository.store.user(id: user.id, cancellation: cancellation)
            } catch {
                results[index] = .failure(error)
                continue
            }
            guard let stored else { continue }  // a real conflict with another user's username or email
            if !stored.username.sameBytes(as: user.username) || !stored.email.sameBytes(as: user.email) {
                results[index] = .failure(.idempotencyKeyReused("this idempotency key registered a different user"))
            } else if user.createdAt.timeIntervalSince(stored.createdAt) > Self.idempotencyWindow {
                results[index] = .failure(.idempotencyKeyReused("this idempotency key was used more than 24 hours ago"))
            } else {
                results[index] = .success(stored)
            }
        }
        return results
    }
}
