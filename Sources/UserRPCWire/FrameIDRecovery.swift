import StrictJSON

/// Finds the call id of a frame that is grammatical JSON (RFC 8259) but that ``JSONParser`` refuses
/// for one of its own rules (a duplicate key, nesting deeper than its limit, a number literal longer
/// than its limit), so that the call can be answered INVALID_ARGUMENT instead of closing the
/// connection.
///
/// The frame is checked against the JSON grammar without those limits — iteratively, so depth costs
/// no stack — and its id is usable only when the document is an object with exactly one `id` member
/// holding an integer in `0 ... 2^64-1`.
enum FrameIDRecovery {
    /// What such a frame is, as far as it can be known.
    struct Recovered: Equatable {
        /// The one top-level `id`.
        var id: UInt64
        /// Whether every top-level `type` member is `"ping"`, every one `"cancel"`, or every one
        /// `"credit"`: frames that are never answered with a `response` (a malformed one is dropped).
        var isControl: Bool
    }

    /// The usable id and the kind of frame, or `nil` when the frame is not JSON or gives no usable id.
    static func recover(_ body: UnsafeRawBufferPointer, parser: JSONParser) -> Recovered? {
        guard String(validating: body, as: UTF8.self) != nil else { return nil }
        var scanner = Scanner(bytes: body)
        guard let id = scanner.scanDocument(parser: parser) else { return nil }
        let types = Set(scanner.types)
        return Recovered(id: id, isControl: types == ["ping"] || types == ["cancel"] || types == ["credit"])
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        /// The values of the top-level `type` members (`nil` for one that is not a string).
        var types: [String?] = []

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
                index += 1
            }
        }

        /// The whole document; the top-level object's `id` when it has exactly one usable one.
        mutating func scanDocument(parser: JSONParser) -> UInt64? {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
            // Containers open, innermost last: true for an object.
            var stack: [Bool] = []
            var ids: [UInt64?] = []
            var pendingIDValue = false
            var pendingTypeValue = false
            // A value is expected at `index`; after it, a comma or a closing bracket.
            var expectValue = true
            while true {
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if expectValue {
                    let byte = bytes[index]
                    let isIDValue = pendingIDValue
                    let isTypeValue = pendingTypeValue
                    pendingIDValue = false
                    pendingTypeValue = false
                    if isTypeValue, byte != UInt8(ascii: "\"") { types.append(nil) }
                    switch byte {
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        if isIDValue { ids.append(nil) }
                        stack.append(byte == UInt8(ascii: "{"))
                        index += 1
                        skipWhitespace()
                        guard index < bytes.count else { return nil }
                        if bytes[index] == (byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                            index += 1
                            stack.removeLast()
                            expectValue = false
                            if stack.isEmpty { return finish(ids) }
                            continue
                        }
                        if byte == UInt8(ascii: "{") {
                            guard let key = scanKey(parser: parser) else { return nil }
                            (pendingIDValue, pendingTypeValue) = (stack.count == 1 && key == "id", stack.count == 1 && key == "type")
                        }
                        expectValue = true
                    case UInt8(ascii: "\""):
                        guard let text = scanString(decodingWith: isTypeValue ? parser : nil) else { return nil }
                        if isIDValue { ids.append(nil) }
                        if isTypeValue { types.append(text) }
                        expectValue = false
                    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                        let start = index
                        guard scanNumber() else { return nil }
                        if isIDValue { ids.append(Self.unsignedInteger(bytes[start..<index])) }
                        expectValue = false
                    case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                        guard scanLiteral() else { return nil }
                        if isIDValue { ids.append(nil) }
                        expectValue = false
                    default:
                        return nil
                    }
                } else {
                    switch bytes[index] {
                    case UInt8(ascii: ","):
                        index += 1
                        if stack.last == true {
                            guard let key = scanKey(parser: parser) else { return nil }
                            (pendingIDValue, pendingTypeValue) = (stack.count == 1 && key == "id", stack.count == 1 && key == "type")
                        }
                        expectValue = true
                    case UInt8(ascii: "}") where stack.last == true, UInt8(ascii: "]") where stack.last == false:
                        index += 1
                        stack.removeLast()
                        if stack.isEmpty { return finish(ids) }
                    default:
                        return nil
                    }
                }
            }
        }

        /// After the top-level object: only whitespace may follow.
        private mutating func finish(_ ids: [UInt64?]) -> UInt64? {
            skipWhitespace()
            guard index == bytes.count, ids.count == 1 else { return nil }
            return ids[0]
        }

        /// `"key"` then `:`; the key's text (escapes decoded).
        private mutating func scanKey(parser: JSONParser) -> String? {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            guard let key = scanString(decodingWith: parser) else { return nil }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            return key
        }

        /// A string at `index` (its opening quote); its text when `parser` is given, else "".
        private mutating func scanString(decodingWith parser: JSONParser? = nil) -> String? {
            let start = index
            index += 1
            var escaped = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 1
                    guard index < bytes.count else { return nil }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                        UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count, (1...4).allSatisfy({ Self.isHex(bytes[index + $0]) }) else { return nil }
                        index += 5
                    default:
                        return nil
                    }
                    continue
                }
                index += 1
                if byte == UInt8(ascii: "\"") {
                    guard let parser else { return "" }
                    let literal = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    if !escaped { return String(decoding: UnsafeRawBufferPointer(rebasing: literal.dropFirst().dropLast()), as: UTF8.self) }
                    guard case .string(let text)? = try? parser.parse(literal) else { return nil }
                    return text
                }
            }
            return nil
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, any length.
        private mutating func scanNumber() -> Bool {
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { return false }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, Self.isDigit(bytes[index]) else { return false }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, Self.isDigit(bytes[index]) else { return false }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            return true
        }

        private mutating func scanLiteral() -> Bool {
            for literal in ["true", "false", "null"] {
                let utf8 = Array(literal.utf8)
                if index + utf8.count <= bytes.count, bytes[index..<(index + utf8.count)].elementsEqual(utf8) {
                    index += utf8.count
                    return true
                }
            }
            return false
        }

        /// Digits only, in the unsigned 64-bit range.
        static func unsignedInteger(_ literal: Slice<UnsafeRawBufferPointer>) -> UInt64? {
            guard !literal.isEmpty, literal.allSatisfy(isDigit), literal.count == 1 || literal.first != UInt8(ascii: "0") else { return nil }
            var value: UInt64 = 0
            for digit in literal {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                if overflow1 || overflow2 { return nil }
                value = sum
            }
            return value
        }

        static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        static func isHex(_ byte: UInt8) -> Bool {
            isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
        }
    }
}
