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
}

extension UserChangeFeed {
    /// An empty feed that keeps what `configuration` says.
    public convenience init(configuration: UserFeedConfiguration) {
        self.init(capacity: configuration.capacity, retention: configuration.retention)
    }
}
