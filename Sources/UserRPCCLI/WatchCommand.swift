import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import UserRPCClient
import UserV2

/// `user-rpc watch`: prints user changes as they are committed (user.v2.UserService/WatchUsers).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print every committed change of users as it happens (user.v2.UserService/WatchUsers), until interrupted.",
        discussion: """
            One JSON line per change on stdout (the UserEvent: cursor, kind, user, committed_at), or with
            --format text one line for people. From now on, or with --since every change after that cursor
            first. When the stream breaks (a server restarting or gone) it resumes after the last change on
            its own, on any server given with --address. On interrupt (Ctrl-C), or when the call fails, it
            says on stderr where to resume: `--since <cursor>`.
            Exit status: 0 when interrupted, 100 + the gRPC status number when the call failed (111
            OUT_OF_RANGE: the cursor is older than the server keeps; read the users again and watch from now).

            Example:
              user-rpc watch --since c1.9f3a.42 --username-prefix ali
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Start after this cursor (an event's `cursor`); default: from now on.")
    var since: String?

    @Option(help: "Only users whose username starts with this (case-insensitive).")
    var usernamePrefix: String?

    @Option(help: "json (one UserEvent per line) or text (one readable line per change).")
    var format: String = "json"

    func run() async throws {
        guard format == "json" || format == "text" else { throw ValidationError("format must be json or text, not '\(format)'") }
        let client = UserRPCClient(configuration: try connection.configuration())
        defer { Task { await client.close() } }
        let resumeFrom = NIOLockedValueBox<String?>(since)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        signal(SIGINT, SIG_IGN)
        interrupt.setEventHandler {
            Self.sayWhereToResume(resumeFrom.withLockedValue { $0 })
            Foundation.exit(0)
        }
        interrupt.resume()
        // Bookmarks are asked for so that the place to resume is known before the first change too.
        do {
            for try await event in client.v2.watchUsers(since: since, usernamePrefix: usernamePrefix, bookmarks: true) {
                resumeFrom.withLockedValue { $0 = event.cursor }
                if event.kind == .bookmark { continue }
                // Written at once (not buffered), so that a pipe sees each change as it happens.
                FileHandle.standardOutput.write(
                    Data((format == "json" ? String(decoding: event.jsonBytes, as: UTF8.self) : Self.text(event)).utf8 + [10]))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
            if error.code != .outOfRange && error.code != .invalidArgument { Self.sayWhereToResume(resumeFrom.withLockedValue { $0 }) }
            throw ExitCode(Int32(100 + error.code.numericValue))
        }
    }

    private static func sayWhereToResume(_ cursor: String?) {
        guard let cursor else { return }
        FileHandle.standardError.write(Data("resume with: --since \(cursor)\n".utf8))
    }

    /// `2026-12-06T07:00:00.123Z REGISTERED alice <alice@example.com> 0192… v1`.
    private static func text(_ event: UserServiceV2.UserEvent) -> String {
        let time = event.committedAt.map { $0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) } ?? "-"
        guard let user = event.user else { return "\(time) \(event.kind.rawValue)" }
        return "\(time) \(event.kind.rawValue) \(user.username) <\(user.email)> \(user.id.uuidString.lowercased()) v\(user.version)"
    }
}
