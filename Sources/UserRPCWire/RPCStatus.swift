import StrictJSON

/// The outcome of a call, as the `status` object of a response frame.
public struct RPCStatus: Sendable, Hashable, CustomStringConvertible {
    /// gRPC's status codes, named on the wire by their upper-case names.
    public enum Code: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case ok = "OK"
        case cancelled = "CANCELLED"
        case unknown = "UNKNOWN"
        case invalidArgument = "INVALID_ARGUMENT"
        case deadlineExceeded = "DEADLINE_EXCEEDED"
        case notFound = "NOT_FOUND"
        case alreadyExists = "ALREADY_EXISTS"
        case permissionDenied = "PERMISSION_DENIED"
        case resourceExhausted = "RESOURCE_EXHAUSTED"
        case failedPrecondition = "FAILED_PRECONDITION"
        case aborted = "ABORTED"
        case outOfRange = "OUT_OF_RANGE"
        case unimplemented = "UNIMPLEMENTED"
        case `internal` = "INTERNAL"
        case unavailable = "UNAVAILABLE"
        case dataLoss = "DATA_LOSS"
        case unauthenticated = "UNAUTHENTICATED"

        /// The wire name, for example `NOT_FOUND`.
        public var description: String { rawValue }

        /// gRPC's numeric value of the code (OK is 0, UNAUTHENTICATED 16).
        public var numericValue: Int {
            switch self {
            case .ok: 0
            case .cancelled: 1
            case .unknown: 2
            case .invalidArgument: 3
            case .deadlineExceeded: 4
            case .notFound: 5
            case .alreadyExists: 6
            case .permissionDenied: 7
            case .resourceExhausted: 8
            case .failedPrecondition: 9
            case .aborted: 10
            case .outOfRange: 11
            case .unimplemented: 12
            case .internal: 13
            case .unavailable: 14
            case .dataLoss: 15
            case .unauthenticated: 16
            }
        }
    }

    public var code: Code
    /// For people; empty on success.
    public var message: String
    /// Machine-readable details, for example `field_violations`; `nil` when there are none.
    public var details: JSONObject?

    public init(code: Code, message: String = "", details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public static let ok = RPCStatus(code: .ok)

    /// INVALID_ARGUMENT with `details.field_violations`, one `{field, description}` per bad field.
    public static func invalidArgument(_ message: String, fieldViolations: [(field: String, description: String)]) -> RPCStatus {
        let violations: [JSONValue] = fieldViolations.map {
            .object(JSONObject(["field": .string($0.field), "description": .string($0.description)]))
        }
        return RPCStatus(code: .invalidArgument, message: message, details: JSONObject(["field_violations": .array(violations)]))
    }

    public var description: String {
        message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)"
    }

    func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("code")
        writer.string(code.rawValue)
        writer.key("message")
        writer.string(message)
        if let details {
            writer.key("details")
            writer.value(.object(details))
        }
        writer.endObject()
    }

    init?(json: JSONValue) {
        guard case .object(let object) = json, let codeName = object["code"]?.stringValue,
            let code = Code(rawValue: codeName)
        else { return nil }
        self.init(code: code, message: object["message"]?.stringValue ?? "", details: object["details"]?.objectValue)
    }
}
