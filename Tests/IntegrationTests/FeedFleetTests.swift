import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore
import UserRPCClient
import UserRPCTestKit
import UserStorePostgres
import UserV2

/// WatchUsers across two server processes on one PostgreSQL database.
@Suite("The change feed across a fleet", .timeLimit(.minutes(3)))
struct FeedFleetTests {
    /// The events a watcher took, and a way to wait until it has taken some number of them.
    final class Taken: Sendable {
        private let events = NIOLockedValueBox<[UserServiceV2.UserEvent]>([])
        private let counts = AsyncStream.makeStream(of: Int.self)

        func add(_ event: UserServiceV2.UserEvent) {
            let count = events.withLockedValue { events in
                events.append(event)
                return events.count
            }
            counts.continuation.yield(count)
        }

        var all: [UserServiceV2.UserEvent] { events.withLockedValue { $0 } }

        /// Returns once `count` events were taken (or the stream of counts ended).
        func wait(until count: Int) async {
            if all.count >= count { return }
            for await taken in counts.stream where taken >= count { return }
        }
    }

    @Test(
        "changes through server A reach a watcher on server B; B killed mid-stream, the watcher resumes on A with no gap and no duplicate, under concurrent writers"
    )
    func killedMidStream() async throws {
        let services = try TestServices.urls()
        let database = try await TestDatabase.create(baseURL: services.database)
        defer { Task { await database.drop() } }
        var environment = ServerProcess.embeddedEnvironment
        environment["DATABASE_URL"] = database.url
        // A loopback address of this test's own (see FleetTests).
        let host = "127.0.0.41"
        let arguments = ["--host", host, "--port", "0", "--grace-period", "2s", "--db-pool-size", "4", "--metrics-port", "0"]
        let (serverA, portA) = try await ServerProcess.start(arguments, environment: environment)
        defer { serverA.killIfRunning() }
        let (serverB, portB) = try await ServerProcess.start(arguments, environment: environment)
        defer { serverB.killIfRunning() }

        var writerConfiguration = UserRPCClient.Configuration(host: host, port: portA)
        writerConfiguration.defaultTimeout = .seconds(20)
        let writer = UserRPCClient(configuration: writerConfiguration)
        // The watcher's first call goes to B (the first in rotation); A is where it resumes.
        var watcherConfiguration = UserRPCClient.Configuration(endpoints: [.init(host: host, port: portB), .init(host: host, port: portA)])
        watcherConfiguration.reconnectBackoff = .init(initial: .milliseconds(50), maximum: .milliseconds(400))
        let watcher = UserRPCClient(configuration: watcherConfiguration)

        // Where the feed is now: the watch starts after it, so nothing depends on when it opened.
        var start: String?
        for try await bookmark in writer.v2.watchUsers(bookmarks: true) {
            start = bookmark.cursor
            break
        }
        let taken = Taken()
        let watch = Task {
            for try await event in watcher.v2.watchUsers(since: start) { taken.add(event) }
        }

        // Eight writers at once (their commits interleave out of order): each registers a user and
        // changes it, 50 times; B is killed once the watcher has 100 events.
        let lanes = 8
        let rounds = 50
        let expected = try await withThrowingTaskGroup(of: [UserServiceV2.User].self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    var written: [UserServiceV2.User] = []
                    for round in 0..<rounds {
                        let user = try await writer.v2.registerUser(username: "feed\(lane)r\(round)", email: "feed\(lane)r\(round)@example.com")
                        let changed = try await writer.v2.updateUser(id: user.id, email: "changed\(lane)r\(round)@example.com")
                        written += [user, changed]
                    }
                    return written
                }
            }
            group.addTask {
                await taken.wait(until: 100)
                serverB.signal(SIGKILL)
                return []
            }
            var all: [UserServiceV2.User] = []
            for try await written in group { all += written }
            return all
        }
        await taken.wait(until: expected.count)
        watch.cancel()
        let events = taken.all
        await writer.close()
        await watcher.close()

        #expect(serverB.process.terminationReason == .uncaughtSignal || !serverB.process.isRunning)
        // Every change once: no gap, no duplicate.
        #expect(events.count == expected.count)
        let positions = events.map { UInt64($0.cursor.split(separator: ".").last ?? "") ?? 0 }
        #expect(positions == positions.sorted() && Set(positions).count == positions.count, "cursors in feed order, each once")
        #expect(Set(events.compactMap(\.user)) == Set(expected))
        // Each user's changes in the order they were made.
        var versions: [UUID: UInt64] = [:]
        for event in events {
            guard let user = event.user else { continue }
            #expect((versions[user.id] ?? 0) < user.version, "\(user.id): version \(user.version) after \(versions[user.id] ?? 0)")
            versions[user.id] = user.version
        }
    }

    @Test(
        "a server's graceful shutdown ends its watchers' streams UNAVAILABLE with the cursor to resume from: the client goes on on another server, nothing lost or repeated"
    )
    func gracefulShutdownResumes() async throws {
        let database = try await TestDatabase.create(baseURL: try TestServices.urls().database)
        let stores = [PostgresUserStore(configuration: .init(url: database.url)), PostgresUserStore(configuration: .init(url: database.url))]
        _ = try await stores[0].migrate()
        for store in stores { try await store.startChangeFeed() }
        try await withTestServers(2) { index in
            try await TestServer.start(repository: UserRepository(store: stores[index])) {
                $0.gracePeriod = .milliseconds(200)
                $0.shutdownDrainDelay = .zero
            }
        } body: { servers in
            var configuration = UserRPCClient.Configuration(endpoints: servers.map { .init(host: "127.0.0.1", port: $0.port) })
            configuration.reconnectBackoff = .init(initial: .milliseconds(50), maximum: .milliseconds(400))
            let watcher = UserRPCClient(configuration: configuration)
            let writer = servers[1].client()
            var start: String?
            for try await bookmark in writer.v2.watchUsers(bookmarks: true) {
                start = bookmark.cursor
                break
            }
            let taken = Taken()
            // The first call in rotation: server 0, the one that shuts down.
            let watch = Task { for try await event in watcher.v2.watchUsers(since: start) { taken.add(event) } }
            var written: [UserServiceV2.User] = []
            for index in 0..<5 { written.append(try await writer.v2.registerUser(username: "grace\(index)", email: "grace\(index)@example.com")) }
            await taken.wait(until: 5)
            servers[0].server.beginGracefulShutdown()
            for index in 5..<10 { written.append(try await writer.v2.registerUser(username: "grace\(index)", email: "grace\(index)@example.com")) }
            await taken.wait(until: 10)
            watch.cancel()
            await watcher.close()
            #expect(taken.all.compactMap(\.user) == written)
        }
        for store in stores { await store.shutdown() }
        await database.drop()
    }
}
