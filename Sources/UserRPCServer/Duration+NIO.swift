import NIOCore

extension Duration {
    /// The same span as NIO's `TimeAmount` (saturating).
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        let (nanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return .nanoseconds(overflow ? .max : nanos + attoseconds / 1_000_000_000)
    }
}
