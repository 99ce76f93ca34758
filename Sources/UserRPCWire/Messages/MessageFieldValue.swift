import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A type that a message field holds: how it is read from JSON, read from a request's plain bytes
/// (the server's scanner), and written.
public protocol MessageFieldValue: Sendable {
    /// What a required field holds while its message is being read and the field is missing or
    /// wrong (the message is then refused, so it is never seen).
    static var placeholder: Self { get }
    /// Reads the value from a parsed JSON value; on failure, the violation's description.
    static func read(json: JSONValue) -> Result<Self, FieldProblem>
    /// Reads the value from plain bytes: a string's contents (printable ASCII, no escapes) or an
    /// unsigned integer's digits. `nil` when that is not certainly right: the JSON path then decides.
    static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> Self?
    /// Writes the value as JSON.
    func write(to writer: inout MessageFieldWriter)
}

/// Why a field's value cannot be read: the description of a ``FieldViolation``.
public struct FieldProblem: Error, Sendable, Hashable {
    /// What is wrong with the value, for people: `must be a UUID (8-4-4-4-12 hex digits)`.
    public var description: String
    /// A problem described as `description` (`must be a string, not number`).
    public init(_ description: String) { self.description = description }

    static func wrongType(_ expected: String, _ value: JSONValue) -> FieldProblem {
        FieldProblem("must be \(expected), not \(value.typeName)")
    }
}

extension String: MessageFieldValue {
    /// The empty string.
    public static var placeholder: String { "" }

    /// A JSON string; any other type is a problem.
    public static func read(json: JSONValue) -> Result<String, FieldProblem> {
        guard case .string(let value) = json else { return .failure(.wrongType("a string", json)) }
        return .success(value)
    }

    /// The string's plain bytes; `nil` for a number.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> String? {
        isString ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Writes the string, escaped as JSON needs.
    public func write(to writer: inout MessageFieldWriter) { writer.writeString(self) }
}

extension Int: MessageFieldValue {
    /// Zero.
    public static var placeholder: Int { 0 }

    /// A JSON integer literal in the 64-bit signed range; a fraction, an exponent or a string is a problem.
    public static func read(json: JSONValue) -> Result<Int, FieldProblem> {
        guard case .number = json else { return .failure(.wrongType("an integer", json)) }
        guard let value = json.intValue else { return .failure(integerProblem(json, range: "-9223372036854775808...9223372036854775807")) }
        return .success(value)
    }

    /// Plain digits up to `Int.max`; `nil` for a string.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> Int? {
        guard !isString, let value = UInt64(plainDigits: bytes), value <= UInt64(Int.max) else { return nil }
        return Int(value)
    }

    /// Writes the integer in decimal.
    public func write(to writer: inout MessageFieldWriter) { writer.writeInteger(Int64(self)) }
}

extension UInt64: MessageFieldValue {
    /// Zero.
    public static var placeholder: UInt64 { 0 }

    /// A JSON integer literal in `0...UInt64.max`; anything else is a problem.
    public static func read(json: JSONValue) -> Result<UInt64, FieldProblem> {
        guard case .number = json else { return .failure(.wrongType("an unsigned integer", json)) }
        guard let value = json.uint64Value else { return .failure(integerProblem(json, range: "0...18446744073709551615")) }
        return .success(value)
    }

    /// Plain digits that fit in 64 bits; `nil` for a string.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> UInt64? {
        isString ? nil : UInt64(plainDigits: bytes)
    }

    /// Writes the integer in decimal.
    public func write(to writer: inout MessageFieldWriter) { writer.writeUnsigned(self) }
}

extension Bool: MessageFieldValue {
    /// `false`.
    public static var placeholder: Bool { false }

    /// `true` or `false`; any other type is a problem.
    public static func read(json: JSONValue) -> Result<Bool, FieldProblem> {
        guard case .bool(let value) = json else { return .failure(.wrongType("a boolean", json)) }
        return .success(value)
    }

    /// Always `nil`: plain payloads hold only strings and integers, so booleans take the JSON path.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> Bool? { nil }

    /// Writes `true` or `false`.
    public func write(to writer: inout MessageFieldWriter) { writer.writeBool(self) }
}

/// A UUID: a string field with `"format": "uuid"`, written in lower case, read in either case.
extension UUID: MessageFieldValue {
    /// The nil UUID (all zeros).
    public static var placeholder: UUID { UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)) }

    /// A string in the 36-character `8-4-4-4-12` form, either case; anything else is a problem.
    public static func read(json: JSONValue) -> Result<UUID, FieldProblem> {
        guard case .string(let text) = json else { return .failure(.wrongType("a string", json)) }
        guard let value = UUID(strictText: text) else { return .failure(FieldProblem("must be a UUID (8-4-4-4-12 hex digits)")) }
        return .success(value)
    }

    /// A plain string in the 36-character form; `nil` otherwise.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> UUID? {
        isString ? UUID(strictTextUTF8: bytes) : nil
    }

    /// Writes the UUID as a lower-case string.
    public func write(to writer: inout MessageFieldWriter) { writer.writeUUID(self) }
}

/// A timestamp: a string field with `"format": "date-time"`, written as RFC 3339 in UTC with
/// milliseconds, read from any RFC 3339 form.
extension Date: MessageFieldValue {
    /// The start of 1970 (UTC).
    public static var placeholder: Date { Date(timeIntervalSince1970: 0) }

    /// A string holding an RFC 3339 timestamp; anything else is a problem.
    public static func read(json: JSONValue) -> Result<Date, FieldProblem> {
        guard case .string(let text) = json else { return .failure(.wrongType("a string", json)) }
        guard let value = RFC3339.parse(text) else { return .failure(FieldProblem("must be an RFC 3339 timestamp")) }
        return .success(value)
    }

    /// A plain string holding an RFC 3339 timestamp; `nil` otherwise.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> Date? {
        isString ? RFC3339.parse(utf8: bytes) : nil
    }

    /// Writes the timestamp as RFC 3339 text in UTC, with milliseconds.
    public func write(to writer: inout MessageFieldWriter) { writer.writeTimestamp(self) }
}

extension UInt64 {
    /// An unsigned integer from its digits (no sign, no leading zero), `nil` when it does not fit.
    init?(plainDigits bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, bytes.count <= 20, bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        self = value
    }
}

/// Why a JSON number is not an integer in `range`: it has a fraction or an exponent, or it is out of range.
private func integerProblem(_ json: JSONValue, range: String) -> FieldProblem {
    if case .number(let text) = json, text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
        return FieldProblem("must be an integer (no fraction or exponent) in \(range)")
    }
    return FieldProblem("must be an integer in \(range)")
}
