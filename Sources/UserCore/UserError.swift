import UserV1

/// What can go wrong in the user domain. The server maps each case to a wire status in one place.
public enum UserError: Error, Sendable, Hashable {
    /// The request is malformed: one entry per bad field.
    case invalidArgument([FieldViolation])
    /// No user has this id.
    case notFound(id: String)
    /// Another user already has this unique value; `field` is `"username"` or `"email"`.
    case alreadyExists(field: String)
    /// A backend (database) cannot be reached now; the call may be retried.
    case unavailable(String)
    /// The call ran out of time.
    case deadlineExceeded
    /// A bug or an unexpected backend answer.
    case internalError(String)
}
