/// A parsed JSON document.
///
/// Numbers keep their literal text, so a 64-bit integer round-trips exactly; use the accessors on
/// ``JSONValue`` to read them as a specific type.
public enum JSONValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as its literal text (already checked against the JSON number grammar).
    case number(String)
    /// A string, unescaped.
    case string(String)
    /// An array, in document order.
    case array([JSONValue])
    /// An object, its members in document order.
    case object(JSONObject)

    /// A short name of the value's JSON type, for error messages: `"string"`, `"number"`, ….
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The value as an unsigned 64-bit integer, when it is an integer literal in `0...UInt64.max`.
    public var uint64Value: UInt64? {
        guard case .number(let text) = self, !text.isEmpty,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt64(text)
    }

    /// The value as an `Int`, when it is an integer literal that fits (`-0` is not one).
    public var intValue: Int? {
        guard case .number(let text) = self, text != "-0",
            text.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") })
        else { return nil }
        return Int(text)
    }

    /// The value as a `Double`, when it is a number.
    public var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// The string, when the value is one.
    public var stringValue: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }

    /// The object, when the value is one.
    public var objectValue: JSONObject? {
        guard case .object(let o) = self else { return nil }
        return o
    }
}

/// A JSON object: its members in document order. Keys are unique (the parser rejects duplicates).
public struct JSONObject: Sendable, Hashable {
    /// One key and its value.
    public struct Member: Sendable, Hashable {
        /// The member's key, unescaped.
        public var key: String
        /// The member's value.
        public var value: JSONValue
        /// A member with this key and value.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members, in document order; keep the keys unique.
    public var members: [Member]

    /// An object with these members, in this order (empty by default).
    public init(_ members: [Member] = []) {
        self.members = members
    }

    /// An object with these members, in this order: `JSONObject(["id": .string(text)])`.
    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        self.members = pairs.map { Member(key: $0.key, value: $0.value) }
    }

    /// The value for `key`, or `nil` when the object has no such member.
    public subscript(key: String) -> JSONValue? {
        get {
            for member in members where member.key == key { return member.value }
            return nil
        }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// The keys, in document order.
    public var keys: [String] { members.map(\.key) }
    /// Whether the object has no members.
    public var isEmpty: Bool { members.isEmpty }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// A string value from a string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A boolean value from `true` or `false`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A number value from an integer literal.
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    /// An array value from an array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// An object value from a dictionary literal, its members in the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONObject.Member(key: $0.0, value: $0.1) }))
    }
    /// `null` from `nil`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object with these members, in this order: `["id": "…", "limit": 5]`.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { Member(key: $0.0, value: $0.1) })
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text.
    public var description: String {
        var writer = JSONWriter()
        writer.value(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

extension JSONObject: CustomStringConvertible {
    /// The object as compact JSON text: `{"id":"…","limit":5}`.
    public var description: String { JSONValue.object(self).description }
}
