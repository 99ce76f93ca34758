/// One watcher of a change feed (`WatchUsers`): where it starts, which changes it wants, and the
/// next events after a cursor, waiting for them when there are none yet.
public struct UserChangeWatch: Sendable {
    public let feed: UserChangeFeed
    /// Where the watch starts: after the `since` cursor, or after the feed's head when it was made.
    public let start: UserFeedCursor
    /// The case-folded username prefix the users must have; `nil` for every user.
    public let usernamePrefix: String?

    /// A watch of `feed` after `since` (a cursor's text; `nil` from now on) of the users whose
    /// username starts with `usernamePrefix` (case-insensitively; `nil` or empty for all). Throws
    /// ``UserError/invalidArgument(_:)`` for a text that is not a cursor, or too long a prefix.
    public init(feed: UserChangeFeed, since: String?, usernamePrefix: String?) throws(UserError) {
        var problems: [InvalidField] = []
        var start = feed.head
        if let since {
            if let cursor = UserFeedCursor(text: since) {
                start = cursor
            } else {
                problems.append(InvalidField(field: "since", description: "is not a cursor this service gave (an event's cursor)"))
            }
        }
        // As long as a username at most, as SearchUsers' prefix.
        if let usernamePrefix, usernamePrefix.unicodeScalars.count > UserValidation.usernameLength.upperBound {
            problems.append(
                InvalidField(field: "username_prefix", description: "must be at most \(UserValidation.usernameLength.upperBound) characters long"))
        }
        guard problems.isEmpty else { throw .invalidArgument(problems) }
        self.feed = feed
        self.start = start
        self.usernamePrefix = usernamePrefix.flatMap { $0.isEmpty ? nil : $0.asciiLowercased }
    }

    /// Whether the watcher wants this event: its user (after the change) has the prefix.
    public func wants(_ event: UserEvent) -> Bool {
        guard let usernamePrefix else { return true }
        return event.user.usernameKey.hasPrefix(usernamePrefix)
    }

    /// Up to `limit` events after `cursor`, in commit order, waiting until there is at least one
    /// (an empty answer only when the task is cancelled). Throws ``UserError/feedCursorExpired`` when
    /// the events after `cursor` are no longer kept (or it is another feed's), and
    /// ``UserError/invalidArgument(_:)`` when it is ahead of the feed (a copy of a shared
    /// database's feed waits for it instead: it may not have caught up yet).
    public func events(after cursor: UserFeedCursor, limit: Int) async throws(UserError) -> [UserEvent] {
        while !Task.isCancelled {
            do throws(UserFeedError) {
                let events = try feed.events(after: cursor, limit: limit)
                if !events.isEmpty { return events }
            } catch .cursorExpired {
                throw .feedCursorExpired
            } catch {
                guard feed.isCopy else {
                    throw .invalidArgument([InvalidField(field: "since", description: "is ahead of this service's changes: not a cursor it gave")])
                }
            }
            await feed.wait(after: cursor)
        }
        return []
    }
}
