import Foundation
import Testing
import UserRPCClient
import UserRPCTestKit
import UserStoreSQLite
import UserV1

/// The durable embedded store through the real binary: restarts, crashes, a full disk, two servers
/// on one directory, and the move to PostgreSQL.
@Suite("Durable embedded store (the server binary)")
struct DurableStoreTests {
    static func scratchDirectory(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-\(name)-\(UUID().uuidString)").path
    }

    static func client(port: Int, host: String = "127.0.0.1") -> UserRPCClient {
        var configuration = UserRPCClient.Configuration(host: host, port: port)
        configuration.defaultTimeout = .seconds(20)
        return UserRPCClient(configuration: configuration)
    }

    @Test("users registered before a clean stop are there after a restart, with their ids and times")
    func restartKeepsUsers() async throws {
        let directory = Self.scratchDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let (first, port) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { first.killIfRunning() }
        let client = Self.client(port: port)
        var registered: [UserV1.User] = []
        for i in 0..<5 { registered.append(try await client.registerUser(username: "keeper\(i)", email: "keeper\(i)@example.com")) }
        await client.close()
        first.signal(SIGTERM)
        #expect(try await first.waitForExit() == 0)
        let permissions = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        #expect(permissions == 0o700, "the data directory is its owner's only")

        let (second, secondPort) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { second.killIfRunning() }
        #expect(second.log.contains("users=5"), "the start-up log says how many users were loaded")
        let again = Self.client(port: secondPort)
        for user in registered { #expect(try await again.getUser(id: user.id) == user) }
        // The uniqueness rules hold across the restart, case-insensitively.
        await #expect(throws: RPCError.self) { _ = try await again.registerUser(username: "KEEPER0", email: "other@example.com") }
        await again.close()
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }

    @Test("a second server on the same data directory stops at start-up, naming the one that holds it")
    func secondServerOnOneDirectory() async throws {
        let directory = Self.scratchDirectory("shared")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (first, _) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { first.killIfRunning() }

        let (status, log) = try await ServerProcess.run(["--port", "0", "--data-dir", directory])
        #expect(status == 1)
        #expect(log.contains("is in use by another user-rpc-server (pid \(first.pid))"), "\(log)")
        #expect(first.process.isRunning, "the first server is not disturbed")

        // `migrate` and `migrate-to` are refused the same way while the server runs.
        let migrate = try await ServerProcess.run(["migrate", "--data-dir", directory])
        #expect(migrate.status == 1 && migrate.log.contains("in use by another user-rpc-server"))
        first.signal(SIGTERM)
        #expect(try await first.waitForExit() == 0)

        // Once it has stopped, the directory is free again.
        let (next, _) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        next.signal(SIGTERM)
        let nextStatus = try await next.waitForExit()
        #expect(
            nextStatus == 0, "\(next.process.terminationReason == .uncaughtSignal ? "killed by signal" : "exit status") \(nextStatus): \(next.log)")
    }

    @Test("a data directory that cannot be created or written is a clear start-up error")
    func unusableDirectory() async throws {
        // A path below a regular file cannot be created, whoever runs the test (even root).
        let file = Self.scratchDirectory("file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("not a directory".utf8)))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let belowFile = try await ServerProcess.run(["--port", "0", "--data-dir", file + "/data"])
        #expect(belowFile.status == 1)
        #expect(belowFile.log.contains("cannot open the embedded store") && belowFile.log.contains("cannot create the data directory \(file)/data"))

        // A directory on a read-only filesystem exists but cannot be written (root included).
        let readOnly = try ScratchMount(options: "ro,size=1m")
        defer { readOnly.unmount() }
        let unwritable = try await ServerProcess.run(["--port", "0", "--data-dir", readOnly.path])
        #expect(unwritable.status == 1)
        #expect(unwritable.log.contains("the data directory \(readOnly.path) is not writable"), "\(unwritable.log)")
    }

    @Test("a command line that names two stores, or Redis in front of the embedded store, is refused before anything is opened")
    func twoStoresRefused() async throws {
        let directory = Self.scratchDirectory("two-stores")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var withDatabase = ServerProcess.embeddedEnvironment
        withDatabase["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
        let cases: [([String], [String: String], String)] = [
            (["--port", "0", "--data-dir", directory], withDatabase, "--data-dir is for the embedded store, but a database URL is given too"),
            (["migrate", "--data-dir", directory], withDatabase, "--data-dir is for the embedded store, but a database URL is given too"),
            (["--port", "0", "--in-memory"], withDatabase, "--in-memory is the embedded store, but a database URL is given too"),
            (["--port", "0", "--in-memory", "--data-dir", directory], ServerProcess.embeddedEnvironment, "--in-memory keeps nothing on disk"),
            (
                ["--port", "0", "--data-dir", directory, "--redis-url", "redis://127.0.0.1:1"], ServerProcess.embeddedEnvironment,
                "a Redis cache in front of the embedded store makes no sense"
            ),
        ]
        for (arguments, environment, message) in cases {
            let (status, log) = try await ServerProcess.run(arguments, environment: environment)
            #expect(status != 0, "\(arguments)")
            #expect(log.contains(message), "\(arguments): \(log)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory), "nothing was created")
    }

    @Test("SIGKILL at 20 random moments during concurrent registrations: every answered user is there once, the store opens cleanly")
    func killedDuringRegistrations() async throws {
        let directory = Self.scratchDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = SQLiteUserStoreConfiguration(dataDirectory: directory)
        var generator = SystemRandomNumberGenerator()
        var acknowledgedSoFar: [UUID: String] = [:]
        var attempted = Set<String>()

        // The servers listen on a loopback address of their own: once one is killed, its clients
        // (which connect again on their next call) could otherwise reach another test's server
        // that was given the same port, and count its answers as this store's.
        let host = "127.0.0.37"
        for round in 0..<20 {
            // Kill after a random number of answers (0: as soon as the first call is sent).
            let killAfter = Int.random(in: 0...160, using: &generator)
            let (server, port) = try await ServerProcess.start(["--host", host, "--port", "0", "--data-dir", directory])
            defer { server.killIfRunning() }
            let recorder = AcknowledgementRecorder(killAfter: killAfter) { server.signal(SIGKILL) }
            let clients = (0..<4).map { _ in Self.client(port: port, host: host) }
            try await withTimeout(seconds: 60) {
                await withTaskGroup(of: Void.self) { group in
                    for (c, client) in clients.enumerated() {
                        for lane in 0..<8 {
                            group.addTask {
                                // Until the server is gone: each call either answered OK or failed.
                                for n in 0..<10_000 {
                                    let username = "r\(round)c\(c)l\(lane)n\(n)"
                                    recorder.attempting(username)
                                    do {
                                        let user = try await client.registerUser(username: username, email: "\(username)@example.com")
                                        recorder.acknowledged(user.id, username)
                                    } catch {
                                        return
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for client in clients { await client.close() }
            let status = try await server.waitForExit()
            #expect(status == SIGKILL, "round \(round): killed, not exited (\(status))")

            // The store opens cleanly, and holds each answered user exactly once.
            #expect(try SQLiteUserStore.integrityCheck(configuration: configuration) == ["ok"], "round \(round)")
            let stored = try SQLiteUserStore.allUsers(configuration: configuration)
            let byID = Dictionary(stored.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(byID.count == stored.count, "round \(round): no id twice")
            #expect(Set(stored.map(\.username)).count == stored.count, "round \(round): no username twice")
            acknowledgedSoFar.merge(recorder.answered, uniquingKeysWith: { first, _ in first })
            attempted.formUnion(recorder.tried)
            let missing = acknowledgedSoFar.filter { byID[$0.key]?.username != $0.value }
            #expect(missing.isEmpty, "round \(round) (killed after \(killAfter)): \(missing.count) answered users lost")
            #expect(stored.allSatisfy { attempted.contains($0.username) }, "round \(round): only registered users are stored")
        }
        #expect(acknowledgedSoFar.count >= 20, "the rounds registered users at all")

        // The binary opens the store that has been through all of that, and serves it.
        let (server, port) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { server.killIfRunning() }
        let client = Self.client(port: port)
        for (id, username) in acknowledgedSoFar.prefix(50) { #expect(try await client.getUser(id: id).username == username) }
        await client.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }

    @Test("a full disk: RESOURCE_EXHAUSTED, nothing answered is lost, and registrations work again once there is room")
    func fullDisk() async throws {
        // A small filesystem of the test's own: 4 MiB, of which a filler file takes all but ~600 KiB.
        let mount = try ScratchMount(options: "size=4m")
        defer { mount.unmount() }
        let directory = mount.path + "/data"
        let filler = mount.path + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 3_400 * 1024)))

        let (server, port) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { server.killIfRunning() }
        let client = Self.client(port: port)
        var answered: [UUID: String] = [:]
        var exhausted: RPCError?
        for n in 0..<20_000 {
            let username = "full\(n)"
            do {
                let user = try await client.registerUser(username: username, email: "\(username)@example.com")
                answered[user.id] = username
            } catch {
                exhausted = error
                break
            }
        }
        let error = try #require(exhausted, "the filesystem filled up within 20,000 registrations")
        #expect(error.code == .resourceExhausted, "\(error)")
        #expect(error.message.contains("full"), "the message says why: \(error.message)")
        #expect(answered.count > 10)

        // The server is up, reads still work, and a second write fails the same way, not worse.
        for (id, username) in answered.prefix(20) { #expect(try await client.getUser(id: id).username == username) }
        await #expect(throws: RPCError.self) { _ = try await client.registerUser(username: "still-full", email: "still-full@example.com") }

        // Room again: writes work without a restart.
        try FileManager.default.removeItem(atPath: filler)
        let after = try await client.registerUser(username: "room-again", email: "room-again@example.com")
        answered[after.id] = after.username
        await client.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)

        // Everything answered is on disk.
        let stored = try SQLiteUserStore.allUsers(configuration: SQLiteUserStoreConfiguration(dataDirectory: directory))
        let byID = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0.username) })
        #expect(answered.allSatisfy { byID[$0.key] == $0.value }, "every answered user survived the full disk")
        #expect(try SQLiteUserStore.integrityCheck(configuration: SQLiteUserStoreConfiguration(dataDirectory: directory)) == ["ok"])
    }

    @Test("the README's online backup (sqlite3 .backup while the server runs) restores into a working data directory")
    func onlineBackup() async throws {
        let directory = Self.scratchDirectory("live")
        let restored = Self.scratchDirectory("restored")
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: restored)
        }
        let (server, port) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { server.killIfRunning() }
        let client = Self.client(port: port)
        var users: [UserV1.User] = []
        for i in 0..<20 { users.append(try await client.registerUser(username: "saved\(i)", email: "saved\(i)@example.com")) }

        // The backup, exactly as the README gives it, while the server is running.
        try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
        let status = launchingChildren { system("sqlite3 '\(directory)/users.sqlite3' \".backup '\(restored)/users.sqlite3'\" </dev/null") }
        #expect(status == 0, "sqlite3 .backup failed (\(status)); scripts/install-packages.sh --test installs sqlite3")
        _ = try await client.registerUser(username: "after-backup", email: "after-backup@example.com")
        await client.close()
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)

        let (copy, copyPort) = try await ServerProcess.start(["--port", "0", "--data-dir", restored])
        defer { copy.killIfRunning() }
        let reader = Self.client(port: copyPort)
        for user in users { #expect(try await reader.getUser(id: user.id) == user) }
        #expect(try await reader.searchUsers(username: "after-backup").users.isEmpty, "the backup is of its moment")
        await reader.close()
        copy.signal(SIGTERM)
        #expect(try await copy.waitForExit() == 0)
    }

    @Test("migrate-to copies every user into PostgreSQL, keeping ids, times and versions; running it again copies nothing twice")
    func migrateToPostgres() async throws {
        let directory = Self.scratchDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let urls = try TestServices.urls()
        let database = try await TestDatabase.create(baseURL: urls.database)
        defer { Task { await database.drop() } }

        // Users on the embedded store, one of them changed through user.v2 (version 2).
        let (embedded, port) = try await ServerProcess.start(["--port", "0", "--data-dir", directory])
        defer { embedded.killIfRunning() }
        let client = Self.client(port: port)
        var users: [UserV1.User] = []
        for i in 0..<30 { users.append(try await client.registerUser(username: "mover\(i)", email: "mover\(i)@example.com")) }
        let changed = try await client.v2.updateUser(id: users[0].id, email: "moved@example.com")
        await client.close()
        embedded.signal(SIGTERM)
        #expect(try await embedded.waitForExit() == 0)

        let copy = try await ServerProcess.run(["migrate-to", "--data-dir", directory, "--database-url", database.url])
        #expect(copy.status == 0, "\(copy.log)")
        #expect(copy.log.contains("copied 30 users to PostgreSQL (0 already there)"), "\(copy.log)")
        let again = try await ServerProcess.run(["migrate-to", "--data-dir", directory, "--database-url", database.url])
        #expect(again.log.contains("copied 0 users to PostgreSQL (30 already there)"), "\(again.log)")

        // A server on PostgreSQL answers with the same users.
        var environment = ServerProcess.embeddedEnvironment
        environment["DATABASE_URL"] = database.url
        let (postgres, postgresPort) = try await ServerProcess.start(["--port", "0"], environment: environment)
        defer { postgres.killIfRunning() }
        let moved = Self.client(port: postgresPort)
        for user in users.dropFirst() { #expect(try await moved.getUser(id: user.id) == user) }
        #expect(try await moved.v2.getUser(id: changed.id) == changed)
        #expect(try await moved.searchUsers(username: "mover", limit: 100).users.count == 30)
        await moved.close()
        postgres.signal(SIGTERM)
        #expect(try await postgres.waitForExit() == 0)
    }
}

/// Counts answered registrations and sends the kill once the count reaches its target.
final class AcknowledgementRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private let killAfter: Int
    private let kill: @Sendable () -> Void
    private var killed = false
    private var answeredUsers: [UUID: String] = [:]
    private var triedUsernames = Set<String>()

    init(killAfter: Int, kill: @escaping @Sendable () -> Void) {
        self.killAfter = killAfter
        self.kill = kill
    }

    func attempting(_ username: String) {
        lock.lock()
        triedUsernames.insert(username)
        let fire = !killed && answeredUsers.count >= killAfter
        if fire { killed = true }
        lock.unlock()
        if fire { kill() }
    }

    func acknowledged(_ id: UUID, _ username: String) {
        lock.lock()
        answeredUsers[id] = username
        let fire = !killed && answeredUsers.count >= killAfter
        if fire { killed = true }
        lock.unlock()
        if fire { kill() }
    }

    var answered: [UUID: String] {
        lock.lock()
        defer { lock.unlock() }
        return answeredUsers
    }

    var tried: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return triedUsernames
    }
}

/// A tmpfs of the test's own (needs root, as `scripts/test.sh` and `.ci/run` are): a small or
/// read-only filesystem, real enough for "disk full" and "cannot write".
struct ScratchMount {
    let path: String

    init(options: String) throws {
        path = DurableStoreTests.scratchDirectory("mount")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = launchingChildren { system("mount -t tmpfs -o \(options) user-rpc-test '\(path)' 2>/dev/null") }
        guard status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw ServiceError(message: "cannot mount a tmpfs at \(path) (mount -t tmpfs needs root; run the suite as scripts/test.sh does)")
        }
    }

    func unmount() {
        _ = launchingChildren { system("umount -l '\(path)' 2>/dev/null") }
        try? FileManager.default.removeItem(atPath: path)
    }
}
