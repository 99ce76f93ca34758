import StrictJSON
import UserCore
import UserRPCWire
import UserV1

// The one place where domain errors become wire statuses.

extension UserError {
    /// The wire status for this error.
    public var rpcStatus: RPCStatus {
        switch self {
        case .invalidArgument(let violations):
            let summary = violations.map { "\($0.field) \($0.description)" }.joined(separator: "; ")
            return .invalidArgument(summary, fieldViolations: violations.map { ($0.field, $0.description) })
        case .notFound(let id):
            return RPCStatus(code: .notFound, message: "no user with id \(id)")
        case .alreadyExists(let field):
            return RPCStatus(
                code: .alreadyExists, message: "a user with this \(field) already exists", details: JSONObject(["field": .string(field)]))
        case .unavailable(let reason):
            return RPCStatus(code: .unavailable, message: reason)
        case .deadlineExceeded:
            return RPCStatus(code: .deadlineExceeded, message: "deadline exceeded")
        case .internalError:
            // The reason is logged, not sent: it may describe internals.
            return RPCStatus(code: .internal, message: "internal error")
        }
    }
}

extension MessageDecodingError {
    /// INVALID_ARGUMENT naming every field that could not be read.
    var rpcStatus: RPCStatus {
        UserError.invalidArgument(violations).rpcStatus
    }
}
