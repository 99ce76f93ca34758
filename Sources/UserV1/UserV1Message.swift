import StrictJSON

/// A message of the `user.v1` service: it reads itself from a JSON object and writes itself as one.
///
/// Decoding is strict: an unknown field, a field of the wrong JSON type, or a missing required field
/// is reported as a ``FieldViolation`` naming the field. Values are not validated here; the domain does that.
public protocol UserV1Message: Sendable, Hashable {
    /// The message's name in `Schemas/user.v1.json`.
    static var messageName: String { get }
    /// The message's JSON field names, as in the schema.
    static var fieldNames: [String] { get }
    /// Reads the message from a JSON object.
    init(json: JSONObject) throws(MessageDecodingError)
    /// Writes the message as a JSON object.
    func encode(into writer: inout JSONWriter)
}

extension UserV1Message {
    /// The message as compact JSON bytes.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        encode(into: &writer)
        return writer.bytes
    }

    /// The message as a ``JSONValue``.
    public var jsonValue: JSONValue {
        // The bytes come from our own writer, so they always parse.
        (try? JSONParser().parse(jsonBytes)) ?? .null
    }
}

/// One problem with one field of a request.
public struct FieldViolation: Sendable, Hashable, CustomStringConvertible {
    /// The field's JSON name, for example `"email"`.
    public var field: String
    /// What is wrong with it, for people.
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}

/// A message could not be read: its fields are unknown, missing or of the wrong JSON type.
public struct MessageDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var violations: [FieldViolation]

    public init(_ violations: [FieldViolation]) {
        self.violations = violations
    }

    public var description: String {
        violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
    }
}

/// Reads the fields of one JSON object, collecting every violation before failing.
struct FieldReader {
    let object: JSONObject
    var violations: [FieldViolation] = []

    init(_ object: JSONObject, allowed: [String]) {
        self.object = object
        for key in object.keys where !allowed.contains(key) {
            violations.append(FieldViolation(field: key, description: "unknown field"))
        }
    }

    mutating func requiredString(_ name: String) -> String {
        guard let value = object[name] else {
            violations.append(FieldViolation(field: name, description: "is required"))
            return ""
        }
        guard case .string(let s) = value else {
            violations.append(FieldViolation(field: name, description: "must be a string, not \(value.typeName)"))
            return ""
        }
        return s
    }

    mutating func optionalString(_ name: String) -> String? {
        guard let value = object[name] else { return nil }
        guard case .string(let s) = value else {
            violations.append(FieldViolation(field: name, description: "must be a string, not \(value.typeName)"))
            return nil
        }
        return s
    }

    mutating func optionalInt(_ name: String) -> Int? {
        guard let value = object[name] else { return nil }
        guard case .number = value else {
            violations.append(FieldViolation(field: name, description: "must be an integer, not \(value.typeName)"))
            return nil
        }
        guard let int = value.intValue else {
            violations.append(FieldViolation(field: name, description: "must be an integer in the 64-bit range"))
            return nil
        }
        return int
    }

    func finish() throws(MessageDecodingError) {
        if !violations.isEmpty { throw MessageDecodingError(violations) }
    }
}
