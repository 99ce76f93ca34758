import ArgumentParser
import Foundation
import Logging
import Metrics
import MetricsEndpoint
import Prometheus
import ServiceLifecycle
import UserCacheRedis
import UserCore
import UserRPCServer
import UserRPCWire
import UserService
import UserStorePostgres
import UserStoreSQLite

/// `user-rpc-server`: parses the configuration, starts the server, and waits for SIGTERM or SIGINT.
@main
struct UserRPCServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-rpc-server",
        abstract: "Serves the user services (user.v1 and user.v2) over the framed JSON protocol (docs/PROTOCOL.md).",
        discussion: """
            Each option falls back to an environment variable, then to its default.
            With no database URL, users are kept in the durable embedded store (SQLite) in the data
            directory (--data-dir, default ./user-rpc-data); --in-memory keeps them in memory only.
            """,
        subcommands: [Serve.self, Migrate.self, MigrateTo.self],
        defaultSubcommand: Serve.self)
}

/// Options shared by `serve` and `migrate`.
struct StorageOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL postgres://user:pass@host:port/db (env DATABASE_URL; default: the embedded store).")
    var databaseURL: String?

    @Option(help: "PostgreSQL connections, each with a thread for its blocking calls (env USER_RPC_DB_POOL_SIZE; default 8).")
    var dbPoolSize: Int?

    @Option(help: "Redis URL redis://[:pass@]host:port[/db] for the cache (env REDIS_URL; default: no cache).")
    var redisURL: String?

    @Option(help: "Cache entry lifetime in seconds (env USER_RPC_CACHE_TTL; default 3600).")
    var cacheTTL: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical (env USER_RPC_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(help: "text (one readable line per event) or json (JSON lines, for log collectors) (env USER_RPC_LOG_FORMAT; default text).")
    var logFormat: String?

    @Option(help: "Data directory of the embedded store, created if missing (env USER_RPC_DATA_DIR; default ./user-rpc-data).")
    var dataDir: String?

    @Option(
        help: """
            How long changes are kept for watchers to resume from (WatchUsers), in seconds; an older cursor \
            is answered OUT_OF_RANGE (env USER_RPC_FEED_RETENTION; default 3600).
            """)
    var feedRetention: Int?

    @Option(help: "The most changes kept for watchers, the oldest dropped first (env USER_RPC_FEED_CAPACITY; default 100000).")
    var feedCapacity: Int?

    func feedConfiguration() throws -> UserFeedConfiguration {
        var configuration = UserFeedConfiguration()
        if let text = feedRetention.map(String.init) ?? environment["USER_RPC_FEED_RETENTION"] {
            guard let seconds = Int(text), seconds >= 1 else {
                throw ValidationError("feed retention must be a positive number of seconds, not '\(text)'")
            }
            configuration.retention = .seconds(seconds)
        }
        if let text = feedCapacity.map(String.init) ?? environment["USER_RPC_FEED_CAPACITY"] {
            guard let capacity = Int(text), (1...10_000_000).contains(capacity) else {
                throw ValidationError("feed capacity must be 1...10000000, not '\(text)'")
            }
            configuration.capacity = capacity
        }
        return configuration
    }

    func sqliteConfiguration() throws -> SQLiteUserStoreConfiguration {
        let directory = dataDir ?? environment["USER_RPC_DATA_DIR"] ?? "./user-rpc-data"
        return SQLiteUserStoreConfiguration(dataDirectory: directory.isEmpty ? "./user-rpc-data" : directory, feed: try feedConfiguration())
    }

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Refuses a command line that names two stores: `--data-dir` (or `--in-memory`) with a database URL
    /// (`--database-url`, or `DATABASE_URL` in the environment), or `--in-memory` with `--data-dir`.
    func checkOneStore(inMemory: Bool = false) throws {
        let databaseURLGiven = databaseURL != nil || !(environment["DATABASE_URL"] ?? "").isEmpty
        if dataDir != nil, databaseURLGiven {
            throw ValidationError(
                "--data-dir is for the embedded store, but a database URL is given too (--database-url or DATABASE_URL): give one of them")
        }
        if inMemory, databaseURLGiven {
            throw ValidationError(
                "--in-memory is the embedded store, but a database URL is given too (--database-url or DATABASE_URL): give one of them")
        }
        if inMemory, dataDir != nil { throw ValidationError("--in-memory keeps nothing on disk: it takes no --data-dir") }
    }

    func bootstrapLogging() throws -> Logger {
        let levelText = logLevel ?? environment["USER_RPC_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else { throw ValidationError("unknown log level '\(levelText)'") }
        switch logFormat ?? environment["USER_RPC_LOG_FORMAT"] ?? "text" {
        case "text":
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case "json":
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case let other:
            throw ValidationError("unknown log format '\(other)': text or json")
        }
        return Logger(label: "user-rpc-server")
    }

    var resolvedDatabaseURL: String? {
        let url = databaseURL ?? environment["DATABASE_URL"]
        return url?.isEmpty == true ? nil : url
    }

    func postgresConfiguration() throws -> PostgresUserStoreConfiguration? {
        guard let url = resolvedDatabaseURL else { return nil }
        var configuration = PostgresUserStoreConfiguration(url: url)
        configuration.feed = try feedConfiguration()
        if let text = dbPoolSize.map(String.init) ?? environment["USER_RPC_DB_POOL_SIZE"] {
            guard let size = Int(text), (1...256).contains(size) else { throw ValidationError("db pool size must be 1...256, not '\(text)'") }
            configuration.poolSize = size
        }
        return configuration
    }

    func redisConfiguration() throws -> RedisUserCacheConfiguration? {
        guard let url = redisURL ?? environment["REDIS_URL"], !url.isEmpty else { return nil }
        var configuration: RedisUserCacheConfiguration
        do {
            configuration = try RedisUserCacheConfiguration(url: url)
        } catch {
            throw ValidationError("invalid Redis URL \(Redaction.url(url)): \(error.message)")
        }
        if let text = cacheTTL.map(String.init) ?? environment["USER_RPC_CACHE_TTL"] {
            guard let ttl = Int(text), ttl >= 1 else { throw ValidationError("cache TTL must be a positive number of seconds") }
            configuration.ttlSeconds = ttl
        }
        return configuration
    }
}

/// `user-rpc-server serve` (the default): runs the server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (the default command).")

    @OptionGroup var storage: StorageOptions

    @Flag(help: "Keep users in memory only: nothing survives a restart (for tests and demos; env USER_RPC_IN_MEMORY=1).")
    var inMemory = false

    @Option(help: "Address to bind (env USER_RPC_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "TCP port; 0 picks a free one (env USER_RPC_PORT; default 50051).")
    var port: Int?

    @Option(help: "Largest frame body in bytes (env USER_RPC_MAX_FRAME_BYTES; default 4194304).")
    var maxFrameBytes: Int?

    @Option(help: "Time for in-flight calls to finish on shutdown, e.g. 10s, 500ms (env USER_RPC_GRACE_PERIOD; default 10s).")
    var gracePeriod: String?

    @Option(
        help:
            "On shutdown, keep serving this long with health checks answering NOT_SERVING, so load balancers drain the server first (env USER_RPC_DRAIN_DELAY; default 0s)."
    )
    var drainDelay: String?

    @Option(help: "Calls in flight per connection (env USER_RPC_MAX_CONCURRENT_CALLS; default 1000).")
    var maxConcurrentCalls: Int?

    @Option(help: "Open connections; more are closed at once (env USER_RPC_MAX_CONNECTIONS; default 10000).")
    var maxConnections: Int?

    @Option(help: "Time for a started frame to arrive, before --min-read-rate extends it (env USER_RPC_READ_TIMEOUT; default 10s).")
    var readTimeout: String?

    @Option(
        help:
            "Bytes per second a started frame must keep arriving at: each this many bytes add a second to the read timeout; 0 turns this off (env USER_RPC_MIN_READ_RATE; default 16384)."
    )
    var minReadRate: Int?

    @Option(help: "Close connections idle this long (env USER_RPC_IDLE_TIMEOUT; default 300s).")
    var idleTimeout: String?

    @Option(help: "Close a connection whose client has not read its responses for this long (env USER_RPC_WRITE_STALL_TIMEOUT; default 30s).")
    var writeStallTimeout: String?

    @Option(help: "After goaway, how long a quiet connection stays open to answer late requests UNAVAILABLE (env USER_RPC_CLOSE_LINGER; default 1s).")
    var closeLinger: String?

    @Option(help: "Cap on a call's timeout_ms (env USER_RPC_MAX_TIMEOUT; default 60s).")
    var maxTimeout: String?

    @Option(help: "Deadline of calls that give no timeout_ms (env USER_RPC_DEFAULT_TIMEOUT; default 30s).")
    var defaultTimeout: String?

    @Option(help: "PEM certificate chain: serve TLS (env USER_RPC_TLS_CERT; default: plaintext).")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert (env USER_RPC_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "PEM CA bundle: require client certificates signed by it, mutual TLS (env USER_RPC_TLS_CLIENT_CA).")
    var tlsClientCa: String?

    @Option(help: "File of bearer tokens, one per line, that calls must present (env USER_RPC_AUTH_TOKEN_FILE; default: no authentication).")
    var authTokenFile: String?

    @Flag(help: "Do not host reflection.v1.Reflection, which lists the services and serves their schemas (env USER_RPC_REFLECTION=off).")
    var noReflection = false

    @Option(
        help:
            "Serve Prometheus metrics over HTTP at /metrics on this port; 0 picks a free one (env USER_RPC_METRICS_PORT; default: no metrics are kept)."
    )
    var metricsPort: Int?

    @Option(help: "Address the metrics endpoint binds (env USER_RPC_METRICS_HOST; default: the same as --host).")
    var metricsHost: String?

    func run() async throws {
        let environment = storage.environment
        let logger = try storage.bootstrapLogging()
        var configuration = UserRPCServerConfiguration()
        if let host = host ?? environment["USER_RPC_HOST"] { configuration.host = host }
        if let text = port.map(String.init) ?? environment["USER_RPC_PORT"] {
            guard let value = Int(text), (0...65535).contains(value) else { throw ValidationError("port must be 0...65535, not '\(text)'") }
            configuration.port = value
        }
        if let text = maxFrameBytes.map(String.init) ?? environment["USER_RPC_MAX_FRAME_BYTES"] {
            guard let value = Int(text), value >= 64, value <= Int(UInt32.max) else {
                throw ValidationError("max frame bytes must be 64...\(UInt32.max), not '\(text)'")
            }
            configuration.maxFrameBytes = value
        }
        if let text = gracePeriod ?? environment["USER_RPC_GRACE_PERIOD"] {
            guard let value = Duration(text: text) else { throw ValidationError("grace period '\(text)' is not a duration") }
            configuration.gracePeriod = value
        }
        if let text = drainDelay ?? environment["USER_RPC_DRAIN_DELAY"] {
            guard let value = Duration(text: text) else { throw ValidationError("drain delay '\(text)' is not a duration") }
            configuration.shutdownDrainDelay = value
        }
        if let text = maxConcurrentCalls.map(String.init) ?? environment["USER_RPC_MAX_CONCURRENT_CALLS"] {
            guard let value = Int(text), value >= 1 else { throw ValidationError("max concurrent calls must be at least 1, not '\(text)'") }
            configuration.maxConcurrentCallsPerConnection = value
        }

        if let text = maxConnections.map(String.init) ?? environment["USER_RPC_MAX_CONNECTIONS"] {
            guard let value = Int(text), value >= 1 else { throw ValidationError("max connections must be at least 1, not '\(text)'") }
            configuration.maxConnections = value
        }
        func duration(_ flag: String?, _ name: String, _ what: String) throws -> Duration? {
            guard let text = flag ?? environment[name] else { return nil }
            guard let value = Duration(text: text), value > .zero else { throw ValidationError("\(what) '\(text)' is not a positive duration") }
            return value
        }
        if let value = try duration(readTimeout, "USER_RPC_READ_TIMEOUT", "read timeout") { configuration.readTimeout = value }
        if let text = minReadRate.map(String.init) ?? environment["USER_RPC_MIN_READ_RATE"] {
            guard let value = Int(text), (0...1 << 30).contains(value) else {
                throw ValidationError("min read rate must be 0...\(1 << 30) bytes per second, not '\(text)'")
            }
            configuration.minimumReadBytesPerSecond = value
        }
        if let value = try duration(idleTimeout, "USER_RPC_IDLE_TIMEOUT", "idle timeout") { configuration.idleTimeout = value }
        if let value = try duration(maxTimeout, "USER_RPC_MAX_TIMEOUT", "max timeout") { configuration.maxTimeout = value }
        if let value = try duration(writeStallTimeout, "USER_RPC_WRITE_STALL_TIMEOUT", "write stall timeout") {
            configuration.writeStallTimeout = value
        }
        if let value = try duration(defaultTimeout, "USER_RPC_DEFAULT_TIMEOUT", "default timeout") { configuration.defaultTimeout = value }
        if let value = try duration(closeLinger, "USER_RPC_CLOSE_LINGER", "close linger") { configuration.closeLinger = value }

        let certificate = tlsCert ?? environment["USER_RPC_TLS_CERT"]
        let key = tlsKey ?? environment["USER_RPC_TLS_KEY"]
        let clientCA = tlsClientCa ?? environment["USER_RPC_TLS_CLIENT_CA"]
        switch (certificate, key) {
        case (let certificate?, let key?):
            configuration.tls = TLSSettings(certificateChainPath: certificate, privateKeyPath: key, clientCAPath: clientCA)
        case (nil, nil):
            if clientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }

        // Tokens come from a file or the environment, never from a command-line value (`ps` shows those).
        if noReflection || environment["USER_RPC_REFLECTION"] == "off" { configuration.reflection = false }
        if let path = authTokenFile ?? environment["USER_RPC_AUTH_TOKEN_FILE"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the auth token file \(path)")
            }
            configuration.authTokens = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            guard !configuration.authTokens.isEmpty else { throw ValidationError("the auth token file \(path) holds no token") }
        } else if let list = environment["USER_RPC_AUTH_TOKENS"] {
            configuration.authTokens = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        // Metrics are bootstrapped before the store and the cache are made: they take their handles
        // from the process-wide factory.
        var metricsEndpoint: PrometheusEndpoint?
        var metricsFactory: (any MetricsFactory)?
        if let text = metricsPort.map(String.init) ?? environment["USER_RPC_METRICS_PORT"] {
            guard let value = Int(text), (0...65535).contains(value) else { throw ValidationError("metrics port must be 0...65535, not '\(text)'") }
            var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
            // Calls take microseconds to milliseconds: the default buckets (5 ms and up) would see none of that.
            let fine: [Duration] = [
                .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
            ]
            factory.durationHistogramBuckets = ["user_rpc_call_duration_seconds": fine, "user_rpc_store_pool_wait_seconds": fine]
            MetricsSystem.bootstrap(factory)
            metricsFactory = factory
            metricsEndpoint = PrometheusEndpoint(
                configuration: .init(host: metricsHost ?? environment["USER_RPC_METRICS_HOST"] ?? configuration.host, port: value),
                registry: factory.registry, logger: logger)
        }

        try storage.checkOneStore(inMemory: inMemory || environment["USER_RPC_IN_MEMORY"] == "1")
        let postgresConfiguration = try storage.postgresConfiguration()
        let redisConfiguration = try storage.redisConfiguration()
        let store: any UserStore
        var postgres: PostgresUserStore?
        var sqlite: SQLiteUserStore?
        var storeDescription = "embedded in-memory (data is lost on exit)"
        if let postgresConfiguration {
            let database = PostgresUserStore(configuration: postgresConfiguration)
            do {
                let applied = try await database.migrate()
                logger.info("database migrations done", metadata: ["applied": "\(applied)"])
                try await database.startChangeFeed()
            } catch {
                await database.shutdown()
                logger.critical("cannot prepare the database", metadata: ["url": "\(Redaction.url(postgresConfiguration.url))", "error": "\(error)"])
                throw ExitCode(1)
            }
            store = database
            postgres = database
            storeDescription = "postgresql \(Redaction.url(postgresConfiguration.url)) (pool \(postgresConfiguration.poolSize))"
        } else if inMemory || environment["USER_RPC_IN_MEMORY"] == "1" {
            store = InMemoryUserStore(changeFeed: UserChangeFeed(configuration: try storage.feedConfiguration()))
        } else {
            let sqliteConfiguration = try storage.sqliteConfiguration()
            if redisConfiguration != nil {
                logger.critical(
                    "a Redis cache in front of the embedded store makes no sense: it answers reads from memory already; give --database-url, or no --redis-url"
                )
                throw ExitCode(1)
            }
            do {
                let durable = try SQLiteUserStore(configuration: sqliteConfiguration)
                logger.info(
                    "embedded store opened",
                    metadata: [
                        "data_dir": "\(sqliteConfiguration.dataDirectory)", "users": "\(durable.loadedUsers)", "took": "\(durable.openingTime)",
                    ])
                store = durable
                sqlite = durable
                storeDescription = "embedded, durable (SQLite in \(sqliteConfiguration.dataDirectory))"
            } catch {
                logger.critical("cannot open the embedded store", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
        }
        var redis: RedisUserCache?
        var cacheDescription = "none"
        if let redisConfiguration {
            redis = RedisUserCache(configuration: redisConfiguration, logger: logger)
            cacheDescription =
                "redis \(redisConfiguration.host):\(redisConfiguration.port)/\(redisConfiguration.database)"
                + (redisConfiguration.password == nil ? "" : " (password set)") + " ttl \(redisConfiguration.ttlSeconds)s"
        }
        let repository = UserRepository(store: store, cache: redis)
        let operations = UserOperations(repository: repository)
        logger.info(
            "starting user-rpc-server",
            metadata: [
                "store": "\(storeDescription)", "cache": "\(cacheDescription)", "host": "\(configuration.host)", "port": "\(configuration.port)",
                "auth": "\(configuration.authTokens.isEmpty ? "none" : "bearer tokens (\(configuration.authTokens.count))")",
                "tls": "\(configuration.tls == nil ? "off" : configuration.tls?.clientCAPath == nil ? "on" : "on, client certificates required")",
            ])
        let server = try UserRPCApplication.makeServer(
            configuration: configuration, operations: operations, storeName: postgres == nil ? "embedded store" : "PostgreSQL", logger: logger,
            metricsFactory: metricsFactory)
        // Bound before the server listens: once the RPC port is logged, the metrics endpoint is up.
        do {
            try await metricsEndpoint?.bind()
        } catch {
            logger.critical("cannot listen for metrics", metadata: ["port": "\(metricsEndpoint?.configuration.port ?? 0)", "error": "\(error)"])
            await postgres?.shutdown()
            await sqlite?.shutdown()
            await redis?.shutdown()
            throw ExitCode(1)
        }
        // Services stop in reverse order: the metrics endpoint answers until the server has stopped.
        let group = ServiceGroup(
            services: (metricsEndpoint.map { [$0] } ?? []) + [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            await postgres?.shutdown()
            await sqlite?.shutdown()
            await redis?.shutdown()
            throw error
        }
        await postgres?.shutdown()
        await sqlite?.shutdown()
        await redis?.shutdown()
    }
}

/// `user-rpc-server migrate`: applies pending migrations to the store in use and exits.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations (PostgreSQL with --database-url, else the embedded store's data directory), then exit.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        try storage.checkOneStore()
        let logger = try storage.bootstrapLogging()
        guard let configuration = try storage.postgresConfiguration() else {
            let sqliteConfiguration = try storage.sqliteConfiguration()
            do {
                let applied = try SQLiteUserStore.migrate(configuration: sqliteConfiguration)
                logger.info("migrations applied", metadata: ["data_dir": "\(sqliteConfiguration.dataDirectory)", "applied": "\(applied)"])
                print(applied.isEmpty ? "database is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
            } catch {
                logger.critical("migration failed", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
            return
        }
        let database = PostgresUserStore(configuration: configuration)
        defer { Task { await database.shutdown() } }
        do {
            let applied = try await database.migrate()
            logger.info("migrations applied", metadata: ["url": "\(Redaction.url(configuration.url))", "applied": "\(applied)"])
            print(applied.isEmpty ? "database is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
        } catch {
            logger.critical("migration failed", metadata: ["url": "\(Redaction.url(configuration.url))", "error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

/// `user-rpc-server migrate-to --database-url …`: copies the embedded store's users into PostgreSQL.
struct MigrateTo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-to",
        abstract: "Copy every user of the embedded store (--data-dir) into PostgreSQL (--database-url), then exit.",
        discussion: """
            Stop the server first (the data directory is locked while it runs). Users keep their ids, times
            and versions. Users already in PostgreSQL with the same id are skipped, so the command can be
            run again; a user whose username or email another user has there stops it, naming both.
            """)

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let logger = try storage.bootstrapLogging()
        guard let configuration = try storage.postgresConfiguration() else {
            throw ValidationError("migrate-to needs --database-url or DATABASE_URL")
        }
        let users: [UserCore.User]
        do {
            users = try SQLiteUserStore.allUsers(configuration: try storage.sqliteConfiguration())
        } catch {
            logger.critical("cannot read the embedded store", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let database = PostgresUserStore(configuration: configuration)
        do {
            _ = try await database.migrate()
            let (imported, skipped) = try await database.importUsers(users)
            await database.shutdown()
            print("copied \(imported) users to PostgreSQL (\(skipped) already there)")
        } catch {
            await database.shutdown()
            logger.critical("migrate-to failed", metadata: ["url": "\(Redaction.url(configuration.url))", "error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

/// Hides passwords in URLs before they are logged.
enum Redaction {
    /// `postgres://user:secret@host/db` becomes `postgres://user:***@host/db`.
    static func url(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else {
            // A libpq key-value string: hide password=….
            return text.replacing(/password\s*=\s*\S+/, with: "password=***")
        }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}
