#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// RFC 3339 timestamps in UTC with millisecond precision: `2026-11-27T10:15:00.123Z`.
public enum RFC3339 {
    /// The length of every timestamp ``format(_:)`` and ``write(_:into:)`` produce.
    public static let formattedLength = 24

    /// Formats `date`, truncated to the millisecond.
    public static func format(_ date: Date) -> String {
        String(unsafeUninitializedCapacity: formattedLength) { out in
            write(date, into: UnsafeMutableRawBufferPointer(out))
            return formattedLength
        }
    }

    /// Writes ``format(_:)``'s text at the start of `out`, which must hold ``formattedLength`` bytes.
    /// Years outside 0...9999 are written as the first instant of year 0 or 9999.
    public static func write(_ date: Date, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= formattedLength, "a timestamp needs \(formattedLength) bytes")
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var days = totalMillis >= 0 ? totalMillis / 86_400_000 : (totalMillis - 86_399_999) / 86_400_000
        var millisOfDay = totalMillis - days * 86_400_000
        // Civil-from-days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        var day = dayOfYear - (153 * mp + 2) / 5 + 1
        var month = mp < 10 ? mp + 3 : mp - 9
        var year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        if !(0...9999).contains(year) {
            (year, month, day, millisOfDay) = (year < 0 ? 0 : 9999, 1, 1, 0)
        }
        let hour = millisOfDay / 3_600_000
        let minute = millisOfDay / 60_000 % 60
        let second = millisOfDay / 1000 % 60
        let millis = millisOfDay % 1000
        func put(_ value: Int64, digits: Int, at offset: Int) {
            var value = value
            for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                out[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, digits: 4, at: 0)
        out[4] = UInt8(ascii: "-")
        put(month, digits: 2, at: 5)
        out[7] = UInt8(ascii: "-")
        put(day, digits: 2, at: 8)
        out[10] = UInt8(ascii: "T")
        put(hour, digits: 2, at: 11)
        out[13] = UInt8(ascii: ":")
        put(minute, digits: 2, at: 14)
        out[16] = UInt8(ascii: ":")
        put(second, digits: 2, at: 17)
        out[19] = UInt8(ascii: ".")
        put(millis, digits: 3, at: 20)
        out[23] = UInt8(ascii: "Z")
    }

    /// `date` truncated to whole milliseconds, the precision every store keeps.
    public static func truncatedToMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
