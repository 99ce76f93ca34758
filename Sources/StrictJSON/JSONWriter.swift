/// Writes compact JSON text into a byte array (``JSONValue/prettyText(indent:)`` gives indented text).
///
/// The low-level methods let encoders of known messages write their fields directly, without
/// building a ``JSONValue`` first: `beginObject()`, `key(_:)`, the value writers, `endObject()`.
/// Commas are inserted automatically.
public struct JSONWriter: Sendable {
    /// The JSON text written so far, as UTF-8.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Forgets what was written, keeping the storage for reuse.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    @inline(__always) private mutating func commaIfNeeded() {
        if let last = bytes.last, last != UInt8(ascii: "{"), last != UInt8(ascii: "["), last != UInt8(ascii: ":") {
            bytes.append(UInt8(ascii: ","))
        }
    }

    /// Writes `{`: members follow, a `key(_:)` and a value each, then ``endObject()``.
    public mutating func beginObject() {
        commaIfNeeded()
        bytes.append(UInt8(ascii: "{"))
    }

    /// Writes `}`, closing the object ``beginObject()`` opened.
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")) }

    /// Writes `[`: elements follow, then ``endArray()``.
    public mutating func beginArray() {
        commaIfNeeded()
        bytes.append(UInt8(ascii: "["))
    }

    /// Writes `]`, closing the array ``beginArray()`` opened.
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")) }

    /// Writes an object key and its colon. The key is written as given: it must need no escaping.
    public mutating func key(_ name: StaticString) {
        commaIfNeeded()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes an object key (escaped as needed) and its colon.
    public mutating func key(_ name: String) {
        commaIfNeeded()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes `value` as a quoted, escaped string.
    public mutating func string(_ value: String) {
        commaIfNeeded()
        appendEscaped(value)
    }

    /// Writes an unsigned integer in decimal.
    public mutating func uint64(_ value: UInt64) {
        commaIfNeeded()
        appendDecimal(value)
    }

    /// Writes a signed integer in decimal.
    public mutating func int(_ value: Int) {
        commaIfNeeded()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDecimal(value.magnitude.asUInt64)
        } else {
            appendDecimal(UInt64(value))
        }
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        commaIfNeeded()
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    /// Writes `null`.
    public mutating func null() {
        commaIfNeeded()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    /// Writes pre-encoded JSON text as a value (for example a payload that was encoded separately).
    public mutating func raw(_ json: some Sequence<UInt8>) {
        commaIfNeeded()
        bytes.append(contentsOf: json)
    }

    /// Writes any value, compactly.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let text):
            commaIfNeeded()
            bytes.append(contentsOf: text.utf8)
        case .string(let s): string(s)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let object):
            beginObject()
            for member in object.members {
                key(member.key)
                self.value(member.value)
            }
            endObject()
        }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        let digits = DecimalText.digitCount(value)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        bytes.withUnsafeMutableBytes { out in
            DecimalText.write(value, into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
        }
    }

    private mutating func appendEscaped(_ s: String) {
        var text = s
        text.withUTF8 { utf8 in
            // Fast path: nothing to escape, so the UTF-8 is copied as a whole.
            if !utf8.contains(where: JSONStringText.needsEscape) {
                bytes.append(UInt8(ascii: "\""))
                bytes.append(contentsOf: utf8)
                bytes.append(UInt8(ascii: "\""))
                return
            }
            let start = bytes.count
            let room = JSONStringText.maxLength(utf8Count: utf8.count)
            bytes.append(contentsOf: repeatElement(0, count: room))
            let written = bytes.withUnsafeMutableBytes { JSONStringText.write(utf8, to: $0.baseAddress! + start) }
            bytes.removeLast(room - written)
        }
    }
}

extension UInt {
    fileprivate var asUInt64: UInt64 { UInt64(self) }
}

extension JSONValue {
    /// The value as compact JSON text.
    public var jsonText: String {
        var writer = JSONWriter()
        writer.value(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The value as indented JSON text (`indent` per level, two spaces by default), for people to read.
    public func prettyText(indent: String = "  ") -> String {
        var out = ""
        Self.pretty(self, level: 0, indent: indent, into: &out)
        return out
    }

    private static func pretty(_ value: JSONValue, level: Int, indent: String, into out: inout String) {
        let pad = String(repeating: indent, count: level + 1)
        let closePad = String(repeating: indent, count: level)
        switch value {
        case .array(let elements) where !elements.isEmpty:
            out += "[\n"
            for (i, element) in elements.enumerated() {
                out += pad
                pretty(element, level: level + 1, indent: indent, into: &out)
                out += i == elements.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            for (i, member) in object.members.enumerated() {
                out += pad + JSONValue.string(member.key).jsonText + ": "
                pretty(member.value, level: level + 1, indent: indent, into: &out)
                out += i == object.members.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        default:
            out += value.jsonText
        }
    }
}
