#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request frame read straight from its bytes, without building a JSON document: the hot path.
///
/// Ranges are byte offsets into the frame body the scanner was given.
public struct ScannedRequest: Sendable, Equatable {
    /// The call's id.
    public var id: UInt64
    /// The method name's bytes (a JSON string without escapes, so the bytes are the name).
    public var method: Range<Int>
    /// The `timeout_ms` member; `nil` when the frame has none.
    public var timeoutMilliseconds: UInt64?
    /// The metadata's entries (every value a string), in order; empty when the frame has none.
    public var metadata: ScannedPayload
    /// The payload's members, in order; empty when the frame has no payload.
    public var payload: ScannedPayload

    /// An empty request, for ``RequestFrameScanner/scan(_:into:)`` to fill.
    public init() {
        self.init(id: 0, method: 0..<0, timeoutMilliseconds: nil, metadata: ScannedPayload(), payload: ScannedPayload())
    }

    /// A request with these parts.
    public init(id: UInt64, method: Range<Int>, timeoutMilliseconds: UInt64?, metadata: ScannedPayload, payload: ScannedPayload) {
        self.id = id
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.payload = payload
    }
}

/// The members of a flat payload object: keys and string or unsigned-integer values, at most
/// ``capacity`` of them, no two keys alike.
public struct ScannedPayload: Sendable, Equatable {
    /// One member: byte ranges of its key and its value.
    ///
    /// Offsets are kept in 32 bits (a frame is under 4 GiB: its length prefix has four bytes), so a
    /// scanned payload is small enough to scan and lend without copying much.
    public struct Member: Sendable, Hashable {
        @usableFromInline var keyBounds: (start: UInt32, end: UInt32)
        @usableFromInline var valueBounds: (start: UInt32, end: UInt32)
        /// Whether the value is a string (`false`: unsigned integer digits).
        public var isString: Bool

        /// A member with these byte ranges (offsets below 2^32: larger ones trap).
        public init(key: Range<Int>, value: Range<Int>, isString: Bool) {
            keyBounds = (UInt32(key.lowerBound), UInt32(key.upperBound))
            valueBounds = (UInt32(value.lowerBound), UInt32(value.upperBound))
            self.isString = isString
        }

        /// The key's bytes, without quotes.
        @inlinable
        public var key: Range<Int> {
            get { Int(keyBounds.start)..<Int(keyBounds.end) }
            set { keyBounds = (UInt32(newValue.lowerBound), UInt32(newValue.upperBound)) }
        }
        /// A string's bytes without quotes, or an integer's digits.
        @inlinable
        public var value: Range<Int> {
            get { Int(valueBounds.start)..<Int(valueBounds.end) }
            set { valueBounds = (UInt32(newValue.lowerBound), UInt32(newValue.upperBound)) }
        }

        public static func == (lhs: Member, rhs: Member) -> Bool {
            lhs.key == rhs.key && lhs.value == rhs.value && lhs.isString == rhs.isString
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
            hasher.combine(isString)
        }
    }

    /// The most members a scanned payload holds; a larger object is left to the JSON path.
    public static let capacity = 8
    /// How many members were read.
    public private(set) var count = 0
    @usableFromInline var members: (Member, Member, Member, Member, Member, Member, Member, Member)

    /// No members.
    public init() {
        let empty = Member(key: 0..<0, value: 0..<0, isString: false)
        members = (empty, empty, empty, empty, empty, empty, empty, empty)
    }

    /// The member at `index`, in document order; `index` must be below ``count``.
    @inlinable
    public subscript(index: Int) -> Member {
        precondition(index >= 0 && index < count, "payload member index out of range")
        return withUnsafeBytes(of: members) { $0.load(fromByteOffset: index * MemoryLayout<Member>.stride, as: Member.self) }
    }

    /// Whether both hold the same members in the same order.
    public static func == (lhs: ScannedPayload, rhs: ScannedPayload) -> Bool {
        lhs.count == rhs.count && (0..<lhs.count).allSatisfy { lhs[$0] == rhs[$0] }
    }

    /// Whether every member's value is a string.
    public var allStrings: Bool {
        (0..<count).allSatisfy { self[$0].isString }
    }

    /// Forgets the members (their storage is reused).
    mutating func removeAll() {
        count = 0
    }

    mutating func append(_ member: Member) {
        precondition(count < Self.capacity, "payload member capacity exceeded")
        let index = count
        withUnsafeMutableBytes(of: &members) { $0.storeBytes(of: member, toByteOffset: index * MemoryLayout<Member>.stride, as: Member.self) }
        count += 1
    }
}

/// Reads the common shape of a request frame from its bytes, or declines.
///
/// It accepts only a strict subset of what ``ClientFrame/decode(_:parser:)`` accepts, and reads it
/// the same way: an object with the keys `type` (exactly `"request"`), `id`, `method`, optional
/// `timeout_ms`, optional flat `metadata` (string values) and an optional flat `payload`, each once;
/// strings of printable ASCII without escapes; integers without sign, fraction or exponent that fit
/// in 64 bits. Anything else — escapes, non-ASCII text, nested payload values, more than
/// ``ScannedPayload/capacity`` members, a malformed or unusual frame — returns `nil`, and
/// the caller decodes the frame the general way, which gives the exact error. So the scanner never
/// decides that a frame is wrong; it only recognises frames that are certainly right.
public enum RequestFrameScanner {
    /// The request in frame `body`, or `nil` when it is not certainly a plain, well-formed request.
    public static func scan(_ body: UnsafeRawBufferPointer) -> ScannedRequest? {
        var request = ScannedRequest()
        return scan(body, into: &request) ? request : nil
    }

    /// Reads the request in frame `body` into `request`, reusing its storage (a scanned request is
    /// several hundred bytes: the server keeps one per connection rather than make and copy one per
    /// frame). Returns `false` when the frame is not certainly a plain, well-formed request; `request`
    /// then holds no meaningful value.
    public static func scan(_ body: UnsafeRawBufferPointer, into request: inout ScannedRequest) -> Bool {
        var reader = ByteReader(bytes: body)
        var seen: UInt8 = 0  // one bit per envelope key
        var id: UInt64?
        var method: Range<Int>?
        var timeout: UInt64?
        request.payload.removeAll()
        request.metadata.removeAll()
        var isRequest = false

        reader.skipWhitespace()
        guard reader.consume(UInt8(ascii: "{")) else { return false }
        reader.skipWhitespace()
        if reader.peek == UInt8(ascii: "}") { return false }
        while true {
            guard let key = reader.plainString() else { return false }
            reader.skipWhitespace()
            guard reader.consume(UInt8(ascii: ":")) else { return false }
            reader.skipWhitespace()
            let bit: UInt8
            switch EnvelopeKey(reader.bytes, key) {
            case .type?:
                bit = 1
                guard let value = reader.plainString(), body.bytes(in: value, equal: "request") else { return false }
                isRequest = true
            case .id?:
                bit = 2
                guard let value = reader.unsignedInteger() else { return false }
                id = value
            case .method?:
                bit = 4
                guard let value = reader.plainString() else { return false }
                method = value
            case .timeout?:
                bit = 8
                guard let value = reader.unsignedInteger() else { return false }
                timeout = value
            case .payload?:
                bit = 16
                guard reader.flatObject(into: &request.payload) else { return false }
            case .metadata?:
                bit = 32
                guard reader.flatObject(into: &request.metadata), request.metadata.allStrings else { return false }
            case nil:
                return false
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            reader.skipWhitespace()
            if reader.consume(UInt8(ascii: ",")) {
                reader.skipWhitespace()
                continue
            }
            guard reader.consume(UInt8(ascii: "}")) else { return false }
            break
        }
        reader.skipWhitespace()
        guard reader.atEnd, isRequest, let id, let method else { return false }
        request.id = id
        request.method = method
        request.timeoutMilliseconds = timeout
        return true
    }

    private enum EnvelopeKey {
        case type, id, method, timeout, metadata, payload

        init?(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
            if bytes.bytes(in: range, equal: "type") {
                self = .type
            } else if bytes.bytes(in: range, equal: "id") {
                self = .id
            } else if bytes.bytes(in: range, equal: "method") {
                self = .method
            } else if bytes.bytes(in: range, equal: "timeout_ms") {
                self = .timeout
            } else if bytes.bytes(in: range, equal: "payload") {
                self = .payload
            } else if bytes.bytes(in: range, equal: "metadata") {
                self = .metadata
            } else {
                return nil
            }
        }
    }
}

/// A cursor over JSON bytes that reads only the plain forms the scanners accept.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Consumes `text` when the bytes at the cursor are exactly it.
    @inline(__always) mutating func consume(_ text: StaticString) -> Bool {
        let end = index + text.utf8CodeUnitCount
        guard bytes.bytes(in: index..<min(end, bytes.count), equal: text) else { return false }
        index = end
        return true
    }

    /// A string of printable ASCII (0x20...0x7E, and DEL) with no escapes: the range of its contents.
    mutating func plainString() -> Range<Int>? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        // Eight bytes at a time while none of them is a quote, a backslash, a control byte or non-ASCII;
        // the word that has one is read byte by byte below.
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                guard !Self.hasSpecialByte(word) else { break }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<(index - 1)
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// Whether any byte of `word` is `"`, `\\`, below 0x20 or above 0x7F. (It may also say so when one
    /// of those is followed by certain bytes; the caller then looks byte by byte, so that is harmless.)
    @inline(__always) static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highBits != 0 }
        let belowSpace = (word &- ones &* 0x20) & ~word & highBits
        return belowSpace != 0 || word & highBits != 0 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    /// `0` or a digit string without a leading zero, fitting in 64 bits, followed by something that is
    /// not part of a number.
    mutating func unsignedInteger() -> UInt64? {
        guard let range = digits() else { return nil }
        var value: UInt64 = 0
        for position in range {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[position] &- UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// The digits of an unsigned integer literal (see ``unsignedInteger()``), at most 20 of them.
    mutating func digits() -> Range<Int>? {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        let count = index - start
        guard count > 0, count <= 20, count == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        // A fraction, an exponent or a sign after the digits makes it some other number.
        if let next = peek,
            next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") || next == UInt8(ascii: "-")
                || next == UInt8(ascii: "+")
        {
            return nil
        }
        return start..<index
    }

    /// An object whose values are plain strings or unsigned integers, with distinct keys, at most
    /// ``ScannedPayload/capacity`` members.
    mutating func flatObject(into payload: inout ScannedPayload) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return true }
        while true {
            guard payload.count < ScannedPayload.capacity, let key = plainString() else { return false }
            for index in 0..<payload.count where equal(payload[index].key, key) { return false }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { return false }
            skipWhitespace()
            if peek == UInt8(ascii: "\"") {
                guard let value = plainString() else { return false }
                payload.append(.init(key: key, value: value, isString: true))
            } else {
                guard let value = digits() else { return false }
                payload.append(.init(key: key, value: value, isString: false))
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) {
                skipWhitespace()
                continue
            }
            return consume(UInt8(ascii: "}"))
        }
    }

    func equal(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        for offset in 0..<a.count where bytes[a.lowerBound + offset] != bytes[b.lowerBound + offset] { return false }
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes in `range` are exactly `text`.
    public func bytes(in range: Range<Int>, equal text: StaticString) -> Bool {
        guard range.lowerBound >= 0, range.upperBound <= count, range.count == text.utf8CodeUnitCount else { return false }
        guard let base = baseAddress else { return range.isEmpty }
        return memcmp(base + range.lowerBound, text.utf8Start, range.count) == 0
    }
}
