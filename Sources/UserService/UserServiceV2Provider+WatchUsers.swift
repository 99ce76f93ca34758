import StrictJSON
import UserCore
import UserRPCServer
import UserRPCWire
import UserV2

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UserServiceV2Provider {
    /// The most events read from the feed at once, between two looks at the call's cancellation.
    static let watchBatch = 256

    /// `WatchUsers`: the store's change feed after the request's cursor (or from now), the users
    /// the prefix wants, each written as the client's credit allows; the stream lasts until the
    /// client cancels it, its deadline passes, or the server ends it (UNAVAILABLE with
    /// `details.resume_cursor` at a graceful shutdown).
    public func watchUsers(
        _ request: UserServiceV2.WatchUsersRequest, context: ServerContext, writer: ServerStreamWriter<UserServiceV2.UserEvent>
    ) async throws(RPCError) {
        guard let feed = operations.repository.store.changeFeed else {
            throw RPCError(code: .unimplemented, message: "this server's store keeps no change feed")
        }
        let watch: UserChangeWatch
        do throws(UserError) {
            watch = try UserChangeWatch(feed: feed, since: request.since, usernamePrefix: request.usernamePrefix)
        } catch {
            throw error.rpcError
        }
        let bookmarks = request.bookmarks == true
        var cursor = watch.start
        writer.setResumeDetails(Self.resumeDetails(cursor))
        if bookmarks { try await writer.write(.bookmark(cursor), resumeDetails: Self.resumeDetails(cursor)) }
        while !Task.isCancelled {
            let events: [UserEvent]
            do throws(UserError) {
                events = try await watch.events(after: cursor, limit: Self.watchBatch)
            } catch {
                throw error.rpcError
            }
            var skipped = false
            for event in events {
                cursor = feed.cursor(of: event)
                if watch.wants(event) {
                    // Where to resume moves past the event once it is sent, not before.
                    try await writer.write(UserServiceV2.UserEvent(event, cursor: cursor), resumeDetails: Self.resumeDetails(cursor))
                    skipped = false
                } else {
                    // Nothing is waiting to be sent: the resume point moves past what is left out.
                    writer.setResumeDetails(Self.resumeDetails(cursor))
                    skipped = true
                }
            }
            // The client's last cursor would lie before the changes left out: a bookmark moves it on.
            if skipped, bookmarks { try await writer.write(.bookmark(cursor), resumeDetails: Self.resumeDetails(cursor)) }
        }
    }

    private static func resumeDetails(_ cursor: UserFeedCursor) -> JSONObject {
        JSONObject(["resume_cursor": .string(cursor.text)])
    }
}

extension UserServiceV2.UserEvent {
    /// A committed change as version 2 presents it.
    public init(_ event: UserCore.UserEvent, cursor: UserFeedCursor) {
        let kind: Kind =
            switch event.kind {
            case .registered: .registered
            case .updated: .updated
            case .deleted: .deleted
            }
        self.init(cursor: cursor.text, kind: kind, user: UserServiceV2.User(event.user), committedAt: event.committedAt)
    }

    /// A bookmark: the cursor a resumed watch starts after, and nothing else.
    public static func bookmark(_ cursor: UserFeedCursor) -> Self {
        Self(cursor: cursor.text, kind: .bookmark)
    }
}
