import StrictJSON
import UserCore
import UserRPCWire

// The one place where domain errors become wire statuses.

extension UserError {
    /// The wire error for this domain error.
    public var rpcError: RPCError {
        switch self {
        case .invalidArgument(let fields):
            return .invalidArgument(fields.map { FieldViolation(field: $0.field, description: $0.description) })
        case .notFound(let id):
            return RPCError(code: .notFound, message: "no user with id \(id.lowercasedText)")
        case .alreadyExists(let field):
            return RPCError(
                code: .alreadyExists, message: "a user with this \(field) already exists", details: JSONObject(["field": .string(field)]))
        case .versionMismatch(let id, let current):
            return RPCError(
                code: .aborted, message: "user \(id.lowercasedText) is at version \(current)",
                details: JSONObject(["current_version": .number(String(current))]))
        case .idempotencyKeyReused(let reason):
            return RPCError(code: .failedPrecondition, message: reason)
        case .storageFull(let reason):
            return RPCError(code: .resourceExhausted, message: reason)
        case .unavailable(let reason):
            return RPCError(code: .unavailable, message: reason)
        case .deadlineExceeded:
            return RPCError(code: .deadlineExceeded, message: "deadline exceeded")
        case .cancelled:
            return RPCError(code: .cancelled, message: "cancelled")
        case .feedCursorExpired:
            return RPCError(
                code: .outOfRange,
                message: "the changes after this cursor are no longer kept: read the users again (SearchUsers) and watch from now",
                details: JSONObject(["reason": .string("CURSOR_EXPIRED")]))
        case .internalError:
            // The reason is logged, not sent: it may describe internals.
            return RPCError(code: .internal, message: "internal error")
        }
    }
}
