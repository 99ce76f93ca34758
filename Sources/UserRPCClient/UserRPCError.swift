import StrictJSON
import UserRPCWire
import UserV1

/// The one error a ``UserRPCClient`` call throws: the status code, message and details the server sent,
/// or a status the client produced itself (UNAVAILABLE when it cannot connect, DEADLINE_EXCEEDED when
/// the call's timeout passes, CANCELLED when the calling task is cancelled).
public struct UserRPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public typealias Code = RPCStatus.Code

    public var code: Code
    public var message: String
    /// The status `details` object, when the server sent one.
    public var details: JSONObject?

    public init(code: Code, message: String, details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    init(_ status: RPCStatus) {
        self.init(code: status.code, message: status.message, details: status.details)
    }

    /// `details.field_violations`, for INVALID_ARGUMENT.
    public var fieldViolations: [FieldViolation] {
        guard case .array(let entries)? = details?["field_violations"] else { return [] }
        return entries.compactMap { entry in
            guard let object = entry.objectValue, let field = object["field"]?.stringValue else { return nil }
            return FieldViolation(field: field, description: object["description"]?.stringValue ?? "")
        }
    }

    /// The field named by ALREADY_EXISTS (`details.field`).
    public var conflictingField: String? { details?["field"]?.stringValue }

    public var description: String { message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)" }
}
