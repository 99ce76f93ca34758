import StrictJSON

/// The outcome of a call, as the `status` object of a response frame.
public struct RPCStatus: Sendable, Hashable, CustomStringConvertible {
    /// gRPC's status codes, named on the wire by their upper-case names.
    public enum Code: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Success: the response carries the payload.
        case ok = "OK"
        /// The call was cancelled by its caller (a `cancel` frame, or the calling task's cancellation).
        case cancelled = "CANCELLED"
        /// An error with no better code; this server does not send it.
        case unknown = "UNKNOWN"
        /// The request is malformed or breaks a field rule; ``RPCError/fieldViolations`` lists the fields.
        case invalidArgument = "INVALID_ARGUMENT"
        /// The call's timeout passed before it finished; a write may still have been committed.
        case deadlineExceeded = "DEADLINE_EXCEEDED"
        /// What the call names does not exist (a user id no user has).
        case notFound = "NOT_FOUND"
        /// What the call would create exists already; ``RPCError/conflictingField`` names the taken field.
        case alreadyExists = "ALREADY_EXISTS"
        /// The caller may not do this; this server does not send it.
        case permissionDenied = "PERMISSION_DENIED"
        /// A limit was reached, for example too many calls in flight on the connection.
        case resourceExhausted = "RESOURCE_EXHAUSTED"
        /// The system is not in a state the call needs; this server does not send it.
        case failedPrecondition = "FAILED_PRECONDITION"
        /// The call was aborted, for example by a concurrency conflict; this server does not send it.
        case aborted = "ABORTED"
        /// A value is past the valid range; this server does not send it.
        case outOfRange = "OUT_OF_RANGE"
        /// The server has no such method.
        case unimplemented = "UNIMPLEMENTED"
        /// A bug or an unexpected answer on the other side (also: a response this client cannot read).
        case `internal` = "INTERNAL"
        /// The server cannot be reached, is shutting down, or its storage is down (safe to retry); also: the client is closed.
        case unavailable = "UNAVAILABLE"
        /// Unrecoverable data loss; this server does not send it.
        case dataLoss = "DATA_LOSS"
        /// The call has no valid bearer token and the server requires one.
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

    /// The outcome: ``Code/ok``, or what kind of failure.
    public var code: Code
    /// For people; empty on success.
    public var message: String
    /// Machine-readable details, for example `field_violations`; `nil` when there are none.
    public var details: JSONObject?

    /// A status with this code, message (empty by default) and optional details.
    public init(code: Code, message: String = "", details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// Success, with no message.
    public static let ok = RPCStatus(code: .ok)

    /// INVALID_ARGUMENT with `details.field_violations`, one `{field, description}` per bad field,
    /// and a message joining `field description` for each, with `; `.
    ///
    /// What a client sent comes back only in bounded form, so that no answer grows with the request:
    /// at most ``RPCError/maxReportedViolations`` violations are listed (the message says how many
    /// more there were), and a field name longer than ``RPCError/maxEchoedBytes`` bytes is cut,
    /// ending in `…` (``RPCError/echo(_:)``). Every INVALID_ARGUMENT with violations is made here:
    /// the envelope's and the payload's.
    public static func invalidArgument(fieldViolations: [(field: String, description: String)]) -> RPCStatus {
        let reported = fieldViolations.prefix(RPCError.maxReportedViolations).map { (field: RPCError.echo($0.field), description: $0.description) }
        var message = reported.map { "\($0.field) \($0.description)" }.joined(separator: "; ")
        if fieldViolations.count > reported.count { message += "; … (\(fieldViolations.count - reported.count) more)" }
        let violations: [JSONValue] = reported.map {
            .object(JSONObject(["field": .string($0.field), "description": .string($0.description)]))
        }
        return RPCStatus(code: .invalidArgument, message: message, details: JSONObject(["field_violations": .array(violations)]))
    }

    /// `CODE: message`, or only the code when the message is empty.
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
