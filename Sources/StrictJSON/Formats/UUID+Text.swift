#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UUID {
    /// Parses the canonical 36-character form (`8-4-4-4-12` hex digits, either case), and nothing else.
    public init?(strictText text: String) {
        var text = text
        guard let value = text.withUTF8({ UUID(strictTextUTF8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = value
    }

    /// ``init(strictText:)`` reading UTF-8 bytes, for example straight from a request frame.
    public init?(strictTextUTF8 utf8: UnsafeRawBufferPointer) {
        guard utf8.count == 36 else { return nil }
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let valid = withUnsafeMutableBytes(of: &uuid) { bytes -> Bool in
            var out = 0
            var i = 0
            while i < 36 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard utf8[i] == UInt8(ascii: "-") else { return false }
                    i += 1
                    continue
                }
                guard let high = Self.hexValue(utf8[i]), let low = Self.hexValue(utf8[i + 1]) else { return false }
                bytes[out] = high << 4 | low
                out += 1
                i += 2
            }
            return true
        }
        guard valid else { return nil }
        self.init(uuid: uuid)
    }

    /// Writes the canonical lower-case text form (36 bytes) at the start of `out`, which must hold 36 bytes.
    public func writeLowercasedText(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 36, "a UUID's text needs 36 bytes")
        let digits: StaticString = "0123456789abcdef"
        withUnsafeBytes(of: uuid) { raw in
            var o = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                let byte = raw[index]
                out[o] = digits.utf8Start[Int(byte >> 4)]
                out[o + 1] = digits.utf8Start[Int(byte & 0x0F)]
                o += 2
            }
        }
    }

    /// The canonical lower-case text form.
    public var lowercasedText: String {
        String(unsafeUninitializedCapacity: 36) { out in
            writeLowercasedText(into: UnsafeMutableRawBufferPointer(out))
            return 36
        }
    }

    /// A new time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random bits.
    public static func version7(at date: Date = Date()) -> UUID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - UInt64(i)))) }
        for i in 6..<16 { bytes[i] = generator.next() }
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(bytes: bytes)
    }

    init(bytes b: [UInt8]) {
        self.init(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    @inline(__always) private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
