/// Strings as quoted JSON text, written into memory: the one escaping rule of every writer here.
///
/// `"` and `\` get a backslash; newline, carriage return and tab their short forms; other control
/// characters `\u00XX`; every other byte (UTF-8 included) is written as it is.
public enum JSONStringText {
    /// The most bytes ``write(_:to:)`` writes for `utf8Count` bytes of text: each escaped as `\u00XX`, and quotes.
    @inlinable public static func maxLength(utf8Count: Int) -> Int { 6 * utf8Count + 2 }

    /// Whether `byte` is written escaped.
    @inlinable public static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Writes `utf8` quoted and escaped at `out`, which must have room for ``maxLength(utf8Count:)``
    /// bytes; returns how many it wrote.
    @inlinable public static func write(_ utf8: UnsafeBufferPointer<UInt8>, to out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        var o = 1
        for byte in utf8 {
            guard needsEscape(byte) else {
                out.storeBytes(of: byte, toByteOffset: o, as: UInt8.self)
                o += 1
                continue
            }
            let short: UInt8? =
                switch byte {
                case UInt8(ascii: "\""): UInt8(ascii: "\"")
                case UInt8(ascii: "\\"): UInt8(ascii: "\\")
                case 0x0A: UInt8(ascii: "n")
                case 0x0D: UInt8(ascii: "r")
                case 0x09: UInt8(ascii: "t")
                default: nil
                }
            out.storeBytes(of: UInt8(ascii: "\\"), toByteOffset: o, as: UInt8.self)
            if let short {
                out.storeBytes(of: short, toByteOffset: o + 1, as: UInt8.self)
                o += 2
            } else {
                let hex: StaticString = "0123456789abcdef"
                out.storeBytes(of: UInt8(ascii: "u"), toByteOffset: o + 1, as: UInt8.self)
                out.storeBytes(of: UInt8(ascii: "0"), toByteOffset: o + 2, as: UInt8.self)
                out.storeBytes(of: UInt8(ascii: "0"), toByteOffset: o + 3, as: UInt8.self)
                out.storeBytes(of: hex.utf8Start[Int(byte >> 4)], toByteOffset: o + 4, as: UInt8.self)
                out.storeBytes(of: hex.utf8Start[Int(byte & 0x0F)], toByteOffset: o + 5, as: UInt8.self)
                o += 6
            }
        }
        out.storeBytes(of: UInt8(ascii: "\""), toByteOffset: o, as: UInt8.self)
        return o + 1
    }
}
