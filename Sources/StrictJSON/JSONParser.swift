/// A strict RFC 8259 JSON parser.
///
/// It accepts exactly the JSON grammar, and on top of it refuses what a hostile peer could use to
/// confuse a reader: duplicate object keys, invalid UTF-8 (including lone surrogate escapes),
/// nesting deeper than ``Limits/maxDepth`` and number literals longer than ``Limits/maxNumberLength``.
public struct JSONParser: Sendable {
    /// Bounds on what one document may contain.
    public struct Limits: Sendable, Hashable {
        /// Deepest nesting of arrays and objects. Default 32.
        public var maxDepth: Int = 32
        /// Longest number literal, in characters. Default 64.
        public var maxNumberLength: Int = 64
        /// The default limits: depth 32, number literals of 64 characters.
        public init() {}
        /// The default limits (``init()``).
        public static let `default` = Limits()
        /// The default depth, and number literals of any length (a number is kept as its text, so a
        /// long one costs only its bytes; the frame size bounds it).
        public static let unboundedNumbers: Limits = {
            var limits = Limits()
            limits.maxNumberLength = .max
            return limits
        }()
    }

    /// The bounds this parser enforces.
    public var limits: Limits

    /// A parser that enforces `limits`.
    public init(limits: Limits = .default) {
        self.limits = limits
    }

    /// Parses one complete document from `bytes`.
    public func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var reader = Reader(bytes: bytes, limits: limits)
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw JSONParseError(.trailingContent, at: reader.index) }
        return value
    }

    /// Parses one complete document from `bytes`.
    public func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) in try parse(UnsafeRawBufferPointer(buffer)) }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes))
    }

    /// Parses one complete document from the UTF-8 of `text`.
    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

extension JSONParser {
    fileprivate struct Reader {
        let bytes: UnsafeRawBufferPointer
        let limits: Limits
        var index = 0

        init(bytes: UnsafeRawBufferPointer, limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        @inline(__always) var atEnd: Bool { index >= bytes.count }

        @inline(__always) func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString) throws(JSONParseError) {
            let start = index
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw JSONParseError(.unexpectedEnd, at: bytes.count) }
            let ptr = literal.utf8Start
            for i in 0..<count where bytes[start + i] != ptr[i] {
                throw JSONParseError(.unexpectedByte, at: start + i)
            }
            index += count
        }

        mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
            guard let byte = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .number(try parseNumber())
            default:
                throw JSONParseError(.unexpectedByte, at: index)
            }
        }

        mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= limits.maxDepth else { throw JSONParseError(.tooDeep, at: index) }
            index += 1  // {
            var members: [JSONObject.Member] = []
            // Duplicate keys: a scan of the members so far while the object is small, a set of its
            // keys once it is not (a frame of many keys must not cost quadratic time).
            var keys: Set<String>?
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject(members))
            }
            while true {
                skipWhitespace()
                guard let byte = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
                guard byte == UInt8(ascii: "\"") else { throw JSONParseError(.unexpectedByte, at: index) }
                let keyOffset = index
                let key = try parseString()
                if members.count < 16 {
                    for member in members where member.key == key {
                        throw JSONParseError(.duplicateKey, at: keyOffset)
                    }
                } else {
                    if keys == nil { keys = Set(members.lazy.map(\.key)) }
                    guard keys!.insert(key).inserted else { throw JSONParseError(.duplicateKey, at: keyOffset) }
                }
                skipWhitespace()
                guard let colon = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
                guard colon == UInt8(ascii: ":") else { throw JSONParseError(.unexpectedByte, at: index) }
                index += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.append(JSONObject.Member(key: key, value: value))
                skipWhitespace()
                guard let next = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
                index += 1
                switch next {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "}"): return .object(JSONObject(members))
                default: throw JSONParseError(.unexpectedByte, at: index - 1)
                }
            }
        }

        mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= limits.maxDepth else { throw JSONParseError(.tooDeep, at: index) }
            index += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth))
                skipWhitespace()
                guard let next = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
                index += 1
                switch next {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "]"): return .array(elements)
                default: throw JSONParseError(.unexpectedByte, at: index - 1)
                }
            }
        }

        mutating func parseNumber() throws(JSONParseError) -> String {
            let start = index
            func digits(_ reader: inout Reader) -> Int {
                let begin = reader.index
                while let b = reader.peek(), b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { reader.index += 1 }
                return reader.index - begin
            }
            if peek() == UInt8(ascii: "-") { index += 1 }
            guard let first = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
            if first == UInt8(ascii: "0") {
                index += 1
            } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
                _ = digits(&self)
            } else {
                throw JSONParseError(.invalidNumber, at: index)
            }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw JSONParseError(atEnd ? .unexpectedEnd : .invalidNumber, at: index) }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                index += 1
                if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw JSONParseError(atEnd ? .unexpectedEnd : .invalidNumber, at: index) }
            }
            guard index - start <= limits.maxNumberLength else { throw JSONParseError(.numberTooLong, at: start) }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }

        mutating func parseString() throws(JSONParseError) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes. Scan to the closing quote, then validate the UTF-8 in one go
            // (nothing to validate when every byte is ASCII, the common case).
            var nonASCII: UInt8 = 0
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    if nonASCII & 0x80 == 0 { return String(decoding: raw, as: UTF8.self) }
                    guard let s = String(validating: raw, as: UTF8.self) else {
                        throw JSONParseError(.invalidUTF8, at: start)
                    }
                    return s
                }
                nonASCII |= b
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw JSONParseError(.controlCharacterInString, at: index) }
                index += 1
            }
            guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, at: index) }
            // Slow path: the string has escapes.
            var scratch = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            while true {
                guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, at: index) }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    index += 1
                    guard let s = String(validating: scratch, as: UTF8.self) else {
                        throw JSONParseError(.invalidUTF8, at: start)
                    }
                    return s
                }
                if b < 0x20 { throw JSONParseError(.controlCharacterInString, at: index) }
                if b != UInt8(ascii: "\\") {
                    scratch.append(b)
                    index += 1
                    continue
                }
                let escapeOffset = index
                index += 1
                guard let e = peek() else { throw JSONParseError(.unexpectedEnd, at: index) }
                index += 1
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw JSONParseError(.invalidEscape, at: escapeOffset) }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw JSONParseError(.invalidEscape, at: escapeOffset) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw JSONParseError(.invalidEscape, at: escapeOffset)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw JSONParseError(.invalidEscape, at: escapeOffset) }
                    scratch.append(contentsOf: UTF8.encode(unicode)!)
                default:
                    throw JSONParseError(.invalidEscape, at: escapeOffset)
                }
            }
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, at: index) }
                let b = bytes[index]
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: throw JSONParseError(.invalidEscape, at: index)
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
    }
}
