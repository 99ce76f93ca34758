#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What can go wrong in the user domain. The service maps each case to a wire status in one place.
public enum UserError: Error, Sendable, Hashable {
    /// The request is malformed: one entry per bad field.
    case invalidArgument([InvalidField])
    /// No user has this id.
    case notFound(id: UUID)
    /// Another user already has this unique value; `field` is `"username"` or `"email"`.
    case alreadyExists(field: String)
    /// The user's version is not the one the call expected (a test-and-set lost a race): the client
    /// re-reads the user and tries again.
    case versionMismatch(id: UUID, current: UInt64)
    /// An idempotency key came back with another registration than the one it first registered, or
    /// after its window (``UserRegistrationLogic/idempotencyWindow``): nothing is registered.
    case idempotencyKeyReused(String)
    /// A backend (database) cannot be reached now; the call may be retried.
    case unavailable(String)
    /// The store has no room for the write (its disk is full); the call may be retried once there is.
    case storageFull(String)
    /// The call ran out of time (a statement was interrupted at its deadline).
    case deadlineExceeded
    /// The call was cancelled before or while its work ran (its answer was already sent).
    case cancelled
    /// The changes after a watcher's cursor are no longer kept (older than the feed's retention):
    /// the watcher reads the users again and watches from now.
    case feedCursorExpired
    /// A bug or an unexpected backend answer; the reason is for logs, never for clients.
    case internalError(String)
}

/// One bad field of a request, and what is wrong with it.
public struct InvalidField: Sendable, Hashable {
    /// The field's name in the request message, for example `"email"`.
    public var field: String
    /// What is wrong with it, for people: `"must contain exactly one '@'"`.
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}
