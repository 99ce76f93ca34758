import StrictJSON

/// Reads the fields of one message. A message's ``RPCMessage/init(fields:)`` is written once against
/// this protocol and so reads the same value from every source: a parsed JSON object
/// (``JSONFieldReader``), or the plain bytes of a request the server scanned (``PlainFieldReader``).
///
/// A field that is missing, or holds the wrong type, is recorded as a violation and read as its
/// type's placeholder; the caller checks the reader afterwards and refuses the message.
public protocol MessageFieldReader {
    /// A field the message must have.
    mutating func required<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value
    /// A field the message may leave out: `nil` when absent.
    mutating func optional<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value?
    /// A field holding an array of messages; absent is an empty array, unless `required`.
    mutating func messages<Element: RPCMessage>(_ name: StaticString, as type: Element.Type, required: Bool) -> [Element]
    /// A field holding a message, which the message may leave out: `nil` when absent.
    mutating func message<Element: RPCMessage>(_ name: StaticString, as type: Element.Type) -> Element?
}

/// What a reader does with fields the message does not read.
public enum UnknownFieldPolicy: Sendable, Hashable {
    /// Each is a violation, `unknown field` (the server, reading requests).
    case reject
    /// They are skipped (a client, reading responses from a newer server).
    case ignore
}

/// Reads a message from a parsed JSON object, collecting every violation.
public struct JSONFieldReader: MessageFieldReader {
    private let object: JSONObject
    private let unknownFields: UnknownFieldPolicy
    /// Prepended to field names in violations (`users[2].` inside an array).
    private let path: String
    /// The fields read so far, to find the unknown ones.
    private var readNames: [StaticString] = []
    /// The violations found so far while reading fields (``finishedViolations()`` adds the unknown fields).
    public private(set) var violations: [FieldViolation] = []

    /// A reader of `object`'s fields; `path` prefixes the field names in violations (`users[2].`).
    public init(_ object: JSONObject, unknownFields: UnknownFieldPolicy, path: String = "") {
        self.object = object
        self.unknownFields = unknownFields
        self.path = path
    }

    private mutating func value(_ name: StaticString) -> JSONValue? {
        readNames.append(name)
        for member in object.members where member.key.utf8.elementsEqual(name.bytes) { return member.value }
        return nil
    }

    private mutating func violation(_ name: StaticString, _ description: String) {
        violations.append(FieldViolation(field: path + name.description, description: description))
    }

    /// A field the message must have: a violation when it is missing or of the wrong type.
    public mutating func required<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value {
        guard value(name) != nil else {
            violation(name, "is required")
            return .placeholder
        }
        return optional(name, as: type) ?? .placeholder
    }

    /// A field the message may leave out: `nil` when absent; a violation when it has the wrong type.
    public mutating func optional<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value? {
        guard let json = value(name) else { return nil }
        switch Value.read(json: json) {
        case .success(let value): return value
        case .failure(let problem):
            violation(name, problem.description)
            return nil
        }
    }

    /// A field holding an array of messages; absent is empty (a violation when `required`); violations name the element (`users[2].id`).
    public mutating func messages<Element: RPCMessage>(_ name: StaticString, as type: Element.Type, required: Bool) -> [Element] {
        guard let json = value(name) else {
            if required { violation(name, "is required") }
            return []
        }
        guard case .array(let elements) = json else {
            violation(name, "must be an array, not \(json.typeName)")
            return []
        }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            let elementPath = "\(path)\(name)[\(index)]"
            guard case .object(let elementObject) = element else {
                violations.append(FieldViolation(field: elementPath, description: "must be an object, not \(element.typeName)"))
                continue
            }
            var reader = JSONFieldReader(elementObject, unknownFields: unknownFields, path: elementPath + ".")
            let message = Element(fields: &reader)
            violations += reader.finishedViolations()
            result.append(message)
        }
        return result
    }

    /// A field holding a message: `nil` when absent; violations name its fields (`user.id`).
    public mutating func message<Element: RPCMessage>(_ name: StaticString, as type: Element.Type) -> Element? {
        guard let json = value(name) else { return nil }
        guard case .object(let object) = json else {
            violation(name, "must be an object, not \(json.typeName)")
            return nil
        }
        var reader = JSONFieldReader(object, unknownFields: unknownFields, path: "\(path)\(name).")
        let message = Element(fields: &reader)
        violations += reader.finishedViolations()
        return message
    }

    /// Every violation: the unknown fields first (in the object's order, when they are refused), then
    /// the ones found while reading.
    public func finishedViolations() -> [FieldViolation] {
        guard unknownFields == .reject else { return violations }
        var unknown: [FieldViolation] = []
        for key in object.keys where !readNames.contains(where: { key.utf8.elementsEqual($0.bytes) }) {
            unknown.append(FieldViolation(field: path + key, description: "unknown field"))
        }
        return unknown + violations
    }
}

/// Reads a message from the plain members of a scanned payload (``ScannedPayload``): strings of
/// printable ASCII without escapes and unsigned integers, each key once.
///
/// It reads only what is certainly right and never decides that a message is wrong: on anything
/// else (a missing required field, a value its type does not read from plain bytes, a nested
/// message, or — with ``UnknownFieldPolicy/reject`` — a member the message does not read) it gives
/// up, and the caller reads the message the general way, which says exactly what is wrong.
public struct PlainFieldReader: MessageFieldReader {
    // Inlinable, with what its inlinable methods use: on the server's hot path a request message's
    // `init(fields:)` is specialized with this reader and each field's type.
    /// The scanned members, lent for the reader's life (a scanned payload is not copied per call).
    @usableFromInline let payload: UnsafePointer<ScannedPayload>
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var readMembers: UInt16 = 0
    /// Set when the message cannot be read this way.
    @usableFromInline var gaveUpReading = false
    /// Whether the message cannot be read this way.
    public var gaveUp: Bool { gaveUpReading }

    /// A reader of `payload`'s members, whose ranges are offsets into `bytes`; both must stay valid
    /// while the reader is used.
    @inlinable
    public init(_ payload: UnsafePointer<ScannedPayload>, in bytes: UnsafeRawBufferPointer) {
        self.payload = payload
        self.bytes = bytes
    }

    @usableFromInline
    mutating func member(_ name: StaticString) -> ScannedPayload.Member? {
        for index in 0..<payload.pointee.count {
            let member = payload.pointee[index]
            if bytes.bytes(in: member.key, equal: name) {
                readMembers |= 1 << index
                return member
            }
        }
        return nil
    }

    /// A field the message must have; gives up when it is missing or not plain.
    @inlinable
    public mutating func required<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value {
        guard let value = optional(name, as: type) else {
            gaveUpReading = true
            return .placeholder
        }
        return value
    }

    /// A field the message may leave out: `nil` when absent; gives up when its value is not plain.
    @inlinable
    public mutating func optional<Value: MessageFieldValue>(_ name: StaticString, as type: Value.Type) -> Value? {
        guard let member = member(name) else { return nil }
        guard let value = Value.read(plain: UnsafeRawBufferPointer(rebasing: bytes[member.value]), isString: member.isString) else {
            gaveUpReading = true
            return nil
        }
        return value
    }

    /// Always empty: a plain payload holds no arrays, so it gives up when the field is present or `required`.
    @inlinable
    public mutating func messages<Element: RPCMessage>(_ name: StaticString, as type: Element.Type, required: Bool) -> [Element] {
        // Plain payloads hold no arrays: present means this is not the way to read it.
        if member(name) != nil || required { gaveUpReading = true }
        return []
    }

    /// Always `nil`: a plain payload holds no objects, so it gives up when the field is present.
    @inlinable
    public mutating func message<Element: RPCMessage>(_ name: StaticString, as type: Element.Type) -> Element? {
        if member(name) != nil { gaveUpReading = true }
        return nil
    }

    /// Whether every member was read, or may be left unread under `unknownFields`.
    @inlinable
    public func accepts(unknownFields: UnknownFieldPolicy) -> Bool {
        guard !gaveUpReading else { return false }
        return unknownFields == .ignore || readMembers == (1 << payload.pointee.count) - 1
    }
}

extension StaticString {
    /// The string's UTF-8 bytes.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
