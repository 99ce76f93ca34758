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
        let totalMillis = milliseconds(date)
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

    /// Reads an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS`, an optional fraction (kept to the
    /// millisecond), then `Z` or a `±HH:MM` offset; `T`/`Z` may be lower-case. `nil` for anything else.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// ``parse(_:)`` reading UTF-8 bytes.
    public static func parse(utf8 bytes: UnsafeRawBufferPointer) -> Date? {
        var index = 0
        func number(_ digits: Int) -> Int64? {
            guard index + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
                index += 1
            }
            return value
        }
        func expect(_ allowed: UInt8...) -> Bool {
            guard index < bytes.count, allowed.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")), let day = number(2),
            expect(UInt8(ascii: "T"), UInt8(ascii: "t")), let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2),
            expect(UInt8(ascii: ":")), let second = number(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var millis: Int64 = 0
        if expect(UInt8(ascii: ".")) {
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 3 { millis = millis * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { millis *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if !expect(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
            guard index < bytes.count else { return nil }
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard expect(UInt8(ascii: "+"), UInt8(ascii: "-")), let offsetHours = number(2), expect(UInt8(ascii: ":")),
                let offsetMins = number(2), offsetHours < 24, offsetMins < 60
            else { return nil }
            offsetMinutes = sign * (offsetHours * 60 + offsetMins)
        }
        guard index == bytes.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetMinutes * 60
        return Date(timeIntervalSince1970: Double(seconds * 1000 + millis) / 1000)
    }

    /// `date` truncated to whole milliseconds, the precision every store keeps.
    public static func truncatedToMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }

    /// Whole milliseconds since 1970, rounded down. The time is first rounded to the microsecond: a
    /// `Date` made from whole milliseconds (`Double(ms) / 1000`) is off by a fraction of a
    /// microsecond, and must not lose its last millisecond.
    public static func milliseconds(_ date: Date) -> Int64 {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
        return Int64((microseconds / 1000).rounded(.down))
    }
}
