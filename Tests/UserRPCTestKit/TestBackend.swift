import Foundation
import NIOPosix
import Synchronization
import UserCacheRedis
import UserCore
import UserStorePostgres

/// What stores users behind a test server.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The embedded in-memory store, no cache.
    case embedded
    /// The durable embedded store (SQLite) in a data directory of the test's own, no cache.
    case sqlite
    /// PostgreSQL with a Redis cache: real servers, started by `scripts/services.sh` when the
    /// environment does not name them (`DATABASE_URL`, `REDIS_URL`).
    case postgresRedis = "postgres+redis"

    public var description: String { rawValue }
}

/// The PostgreSQL and Redis the integration tests use.
///
/// Taken from `DATABASE_URL` and `REDIS_URL` when set (as `.ci/run` and `scripts/test.sh` do);
/// otherwise started once per test process with the project's `scripts/services.sh`. If neither
/// works, tests that need them fail with the reason: they never skip.
public enum TestServices {
    public struct URLs: Sendable {
        public var database: String
        public var redis: String
    }

    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private static let discovered: Result<URLs, ServiceError> = {
        let environment = ProcessInfo.processInfo.environment
        if let database = environment["DATABASE_URL"], let redis = environment["REDIS_URL"], !database.isEmpty, !redis.isEmpty {
            return .success(URLs(database: database, redis: redis))
        }
        do throws(ServiceError) {
            let output = try runScript(["start"])
            var database: String?
            var redis: String?
            for line in output.split(separator: "\n") {
                if let value = exportedValue(line, name: "DATABASE_URL") { database = value }
                if let value = exportedValue(line, name: "REDIS_URL") { redis = value }
            }
            guard let database, let redis else { return .failure(ServiceError(message: "services.sh printed no URLs: \(output)")) }
            return .success(URLs(database: database, redis: redis))
        } catch {
            return .failure(error)
        }
    }()

    public static func urls() throws(ServiceError) -> URLs {
        try discovered.get()
    }

    /// Runs `scripts/services.sh` with `arguments` and extra environment; returns its standard output.
    ///
    /// Uses `system(3)` rather than `Process`: the script starts daemons, and waiting for it must not
    /// depend on how the test process watches its children.
    @discardableResult
    public static func runScript(_ arguments: [String], environment extra: [String: String] = [:]) throws(ServiceError) -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("services-\(UUID().uuidString)")
        let outPath = scratch.path + ".out"
        let errPath = scratch.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let assignments = extra.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        let script = packageRoot.appendingPathComponent("scripts/services.sh").path
        let command = "\(assignments) bash '\(script)' \(arguments.joined(separator: " ")) </dev/null >'\(outPath)' 2>'\(errPath)'"
        let status = launchingChildren { system(command) }
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw ServiceError(message: "scripts/services.sh \(arguments.joined(separator: " ")) failed (\(status)): \(errors)")
        }
        return output
    }

    private static func exportedValue(_ line: Substring, name: String) -> String? {
        guard let range = line.range(of: "\(name)='") else { return nil }
        let rest = line[range.upperBound...]
        return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
    }
}

public struct ServiceError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A database of its own for one test, created from the server's `DATABASE_URL` and dropped afterwards.
public struct TestDatabase: Sendable {
    public let url: String
    let adminURL: String
    let name: String

    /// Creates an empty database with a random name.
    public static func create(baseURL: String) async throws -> TestDatabase {
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let url = try replacingDatabase(in: baseURL, with: name)
        try await blocking {
            let admin = try PostgresConnection(url: baseURL)
            try admin.execute("CREATE DATABASE \"\(name)\"")
        }
        return TestDatabase(url: url, adminURL: baseURL, name: name)
    }

    /// Drops the database (disconnecting whoever is still connected).
    public func drop() async {
        let adminURL = adminURL
        let name = name
        try? await blocking {
            let admin = try PostgresConnection(url: adminURL)
            try admin.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        }
    }

    /// A new direct connection to this database (blocking calls: use ``blocking(_:)``).
    public func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url)
    }

    static func replacingDatabase(in url: String, with name: String) throws -> String {
        guard let scheme = url.range(of: "://"), let slash = url[scheme.upperBound...].firstIndex(of: "/") else {
            throw ServiceError(message: "DATABASE_URL must be a postgres:// URL with a database name")
        }
        let query = url[slash...].firstIndex(of: "?").map { String(url[$0...]) } ?? ""
        return String(url[...slash]) + name + query
    }
}

/// Runs blocking work (libpq, hiredis, processes) off the cooperative thread pool.
@discardableResult
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}

/// A direct PostgreSQL session for a test (to take locks, count rows), usable from any task.
///
/// `@unchecked Sendable`: every use of the connection goes through the lock, on a pool thread.
public final class TestSession: @unchecked Sendable {
    private let connection: PostgresConnection
    private let lock = NSLock()

    public init(_ database: TestDatabase) async throws {
        let url = database.url
        let box = try await blocking { UncheckedBox(try PostgresConnection(url: url)) }
        connection = box.value
    }

    /// Runs SQL text (test-owned, never request data) and returns the first column of each row.
    @discardableResult
    public func execute(_ sql: String) async throws -> [String?] {
        try await blocking { [self] in
            lock.lock()
            defer { lock.unlock() }
            return try connection.execute(sql).rows.map { $0.first ?? nil }
        }
    }
}

/// Carries a value that is used by one thread at a time across a `Sendable` boundary.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
