#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How much of its change feed a store keeps: the window within which a watcher can resume from a
/// cursor (`WatchUsers` with `since`). An older cursor is answered OUT_OF_RANGE: resync.
public struct UserFeedConfiguration: Sendable, Hashable {
    /// How long a change is kept. Default one hour (`--feed-retention`, in seconds).
    public var retention: Duration = .seconds(3600)
    /// How many changes are kept at most, the oldest dropped first. Default 100,000 (`--feed-capacity`):
    /// about 30 MiB of memory per server at most.
    public var capacity: Int = 100_000

    public init(retention: Duration = .seconds(3600), capacity: Int = 100_000) {
        self.retention = retention
        self.capacity = capacity
    }

    /// The commit time, in milliseconds since 1970, before which a change is past the retention
    /// (what a durable store deletes, and does not load).
    public func oldestKeptMilliseconds(now: Date = Date()) -> Int64 {
        Int64((now.timeIntervalSince1970 - retention.timeInterval) * 1000)
    }
}

extension Duration {
    /// The duration in seconds, as `TimeInterval`.
    var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension UserChangeFeed {
    /// An empty feed that keeps what `configuration` says.
    public convenience init(configuration: UserFeedConfiguration) {
        self.init(capacity: configuration.capacity, retention: configuration.retention)
    }
}
