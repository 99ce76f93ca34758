import NIOCore

extension Duration {
    /// Reads a duration written as a number of seconds (`"10"`, `"2.5"`) or with a unit suffix
    /// (`"500ms"`, `"10s"`, `"2m"`). Returns `nil` for anything else, or a negative value.
    public init?(text: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text)
        var scale = 1.0
        for unit in units where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        let nanoseconds = (value * scale * 1e9).rounded()
        guard nanoseconds < 1e18 else { return nil }
        self = .nanoseconds(Int64(nanoseconds))
    }

    /// Whole milliseconds, rounded up, as sent in `timeout_ms`.
    public var wholeMillisecondsRoundedUp: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let millis = UInt64(seconds) * 1000 + UInt64(attoseconds / 1_000_000_000_000_000)
        return attoseconds % 1_000_000_000_000_000 == 0 ? millis : millis + 1
    }
}

extension Duration {
    /// The same span as NIO's `TimeAmount`, in nanoseconds (saturating at the largest amount).
    public var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return .nanoseconds(overflow ? .max : nanoseconds + attoseconds / 1_000_000_000)
    }
}
