import StrictJSON

/// A call's failure: a status code, a message for people, and optional machine-readable details.
///
/// The one error type at the protocol boundary: handlers answer with it, and the client throws it
/// (as `UserRPCError`) for every failed call — statuses the server sent, and the ones the client
/// produces itself (UNAVAILABLE when it cannot connect, DEADLINE_EXCEEDED, CANCELLED).
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// gRPC's status codes (``RPCStatus/Code``).
    public typealias Code = RPCStatus.Code

    /// What kind of failure: NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, …
    public var code: Code
    /// What went wrong, for people (to decide in code, read ``code`` and ``details``).
    public var message: String
    /// The status `details` object, when there is one (see `docs/PROTOCOL.md`, section 4.1).
    public var details: JSONObject?

    /// An error with this code, message and optional `details` object.
    public init(code: Code, message: String, details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// The error a non-OK status describes.
    public init(_ status: RPCStatus) {
        self.init(code: status.code, message: status.message, details: status.details)
    }

    /// The status sent for this error.
    public var status: RPCStatus { RPCStatus(code: code, message: message, details: details) }

    /// INVALID_ARGUMENT with one `details.field_violations` entry per bad field, bounded as
    /// ``RPCStatus/invalidArgument(fieldViolations:)`` says.
    public static func invalidArgument(_ violations: [FieldViolation]) -> RPCError {
        RPCError(RPCStatus.invalidArgument(fieldViolations: violations.map { ($0.field, $0.description) }))
    }

    /// The most violations an INVALID_ARGUMENT lists: 100.
    public static let maxReportedViolations = 100
    /// The longest text from a request that an answer repeats (a field or method name): 128 bytes.
    public static let maxEchoedBytes = 128

    /// `text` as an answer may repeat it: whole when at most ``maxEchoedBytes`` bytes of UTF-8,
    /// else its first characters that fit, and `…`.
    public static func echo(_ text: String) -> String {
        guard text.utf8.count > maxEchoedBytes else { return text }
        var kept = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            guard bytes + size <= maxEchoedBytes - 3 else { break }
            kept.append(character)
            bytes += size
        }
        return kept + "…"
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

    /// `CODE: message`, or only the code when the message is empty.
    public var description: String { message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)" }
}

/// One problem with one field of a message.
public struct FieldViolation: Sendable, Hashable, CustomStringConvertible {
    /// The field's JSON name, for example `"email"` (`"users[2].id"` inside a nested message).
    public var field: String
    /// What is wrong with it, for people.
    public var description: String

    /// A violation of `field`, described as `description` (`is required`).
    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}

/// A message could not be read: fields unknown, missing or of the wrong type.
public struct MessageDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every problem found (the unknown fields first).
    public var violations: [FieldViolation]

    /// An error listing these violations.
    public init(_ violations: [FieldViolation]) {
        self.violations = violations
    }

    /// The violations as one line: `field: description; …`.
    public var description: String {
        violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
    }
}
