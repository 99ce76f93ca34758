import NIOCore

/// How long a started frame may take to arrive: a minimum data rate, not one total time.
///
/// Once the first byte of a frame has arrived, the frame gets ``initialTimeout``, plus one second
/// for every ``minimumBytesPerSecond`` bytes of it received so far (the rule of Apache's
/// `mod_reqtimeout`, `body=10,MinRate=…`). A large frame on a slow link is never cut off while its
/// bytes keep coming at the minimum rate; a client that drips a few bytes at a time is cut off soon
/// after ``initialTimeout``, and no frame can take longer than
/// `initialTimeout + maxFrameBytes / minimumBytesPerSecond`.
public struct FrameArrivalRule: Sendable, Hashable {
    /// Time allowed for a frame before any rate is credited.
    public var initialTimeout: Duration
    /// Each this many bytes received extend the frame's time by one second; `0` credits nothing
    /// (the whole frame must arrive within ``initialTimeout``).
    public var minimumBytesPerSecond: Int

    public init(initialTimeout: Duration, minimumBytesPerSecond: Int) {
        self.initialTimeout = initialTimeout
        self.minimumBytesPerSecond = max(0, minimumBytesPerSecond)
    }

    /// When a frame that began at `start` and of which `bytesReceived` bytes have arrived is out of
    /// time, unless more bytes arrive first.
    public func deadline(frameStartedAt start: NIODeadline, bytesReceived: Int) -> NIODeadline {
        var allowance = initialTimeout.timeAmount
        if minimumBytesPerSecond > 0 {
            // One second per `minimumBytesPerSecond` bytes (at most a day), in nanoseconds without overflow.
            let rate = Int64(minimumBytesPerSecond)
            let bytes = Int64(clamping: max(0, bytesReceived))
            let seconds = min(bytes / rate, 86_400)
            let fraction = seconds == 86_400 ? 0 : (bytes % rate) * 1_000_000_000 / rate
            allowance = allowance + .nanoseconds(seconds * 1_000_000_000 + fraction)
        }
        return start + allowance
    }
}
