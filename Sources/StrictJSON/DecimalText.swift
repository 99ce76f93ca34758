/// Unsigned integers as decimal digits, written into memory: shared by the writers.
public enum DecimalText {
    /// How many digits `value` has.
    @inlinable public static func digitCount(_ value: UInt64) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }

    /// Writes the ``digitCount(_:)`` digits of `value` at the start of `out`.
    @inlinable public static func write(_ value: UInt64, into out: UnsafeMutableRawBufferPointer) {
        var remaining = value
        for position in stride(from: digitCount(value) - 1, through: 0, by: -1) {
            out[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
    }
}
