import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import StrictJSON
import Synchronization
import UserCore

/// The production cache: users in Redis under `user:v1:<id>`, through hiredis, with a TTL.
///
/// A cache is never a point of failure: when Redis is down, slow (past ``RedisUserCacheConfiguration/timeout``)
/// or answers garbage, a read is a miss and a write is dropped, with a rate-limited warning; after a
/// failure, calls skip Redis for ``RedisUserCacheConfiguration/retryInterval``, then try again, so it
/// recovers by itself. hiredis is blocking, so commands run on a small thread pool, one connection per thread.
public final class RedisUserCache: UserCache {
    public let configuration: RedisUserCacheConfiguration
    private let threads: NIOThreadPool
    private let slots = ThreadSpecificVariable<ConnectionSlot>()
    private let warnings: RateLimitedWarnings
    /// Until when (monotonic nanoseconds) Redis is skipped after a failure.
    private let skipUntil = Atomic<UInt64>(0)

    /// `@unchecked Sendable`: a slot lives in thread-specific storage, so only its own pool thread ever
    /// touches it; the type must be `Sendable` only because `ThreadSpecificVariable` is shared.
    private final class ConnectionSlot: @unchecked Sendable {
        var connection: RedisConnection?
    }

    /// The cache key of a user: the schema version is part of it, so a new version never reads old entries.
    public static func key(for id: UUID) -> String { "user:v1:\(id.lowercasedText)" }

    public init(configuration: RedisUserCacheConfiguration, logger: Logger = Logger(label: "user-rpc-server.redis")) {
        self.configuration = configuration
        self.threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        self.warnings = RateLimitedWarnings(logger: logger, interval: .seconds(10))
        threads.start()
    }

    public func shutdown() async {
        try? await threads.shutdownGracefully()
    }

    // MARK: UserCache (on the calling thread, which may block: the store's threads, or this cache's own)

    /// Blocking: calls run on this cache's own threads when the store in front of it never blocks
    /// (otherwise on the store's threads, which may block too).
    public var execution: StorageExecution { .threads(CacheExecutor(threads: threads, threadCount: max(1, configuration.poolSize))) }

    /// One pipelined round trip of GETs.
    public func users(ids: some Collection<UUID>, found: (User) -> Void) {
        guard !skipping, !ids.isEmpty else { return }
        let idList = Array(ids)
        guard let replies = runHere(idList.map(Self.getCommand)) else { return }
        for (reply, id) in zip(replies, idList) {
            switch reply {
            case .success(let reply):
                if let user = decodeEntry(reply, id: id) { found(user) }
            case .failure:
                warnings.warn("Redis answered GET with an error; reading from the store")
            }
        }
    }

    /// One pipelined round trip of SETs.
    public func store(_ users: [User]) {
        guard !skipping, !users.isEmpty else { return }
        _ = runHere(users.map(setCommand))
    }

    // MARK: Commands

    private static func getCommand(_ id: UUID) -> [[UInt8]] {
        [Array("GET".utf8), Array(key(for: id).utf8)]
    }

    private func setCommand(_ user: User) -> [[UInt8]] {
        [Array("SET".utf8), Array(Self.key(for: user.id).utf8), Self.encode(user), Array("EX".utf8), Array(String(configuration.ttlSeconds).utf8)]
    }

    /// The user in a GET reply; `nil` (with a warning for garbage) otherwise.
    private func decodeEntry(_ reply: RedisReply?, id: UUID) -> User? {
        switch reply {
        case nil, .null?:
            return nil
        case .string(let bytes)?:
            guard let user = Self.decode(bytes), user.id == id else {
                warnings.warn("Redis returned an unreadable entry; reading from the store")
                return nil
            }
            return user
        default:
            warnings.warn("Redis answered GET with an unexpected reply; reading from the store")
            return nil
        }
    }

    /// Whether Redis is being skipped after a recent failure.
    private var skipping: Bool {
        DispatchTime.now().uptimeNanoseconds < skipUntil.load(ordering: .relaxed)
    }

    /// Runs commands pipelined on the calling thread's connection; `nil` (and a warning, and a pause
    /// before Redis is tried again) when the connection fails.
    private func runHere(_ commands: [[[UInt8]]]) -> [Result<RedisReply, RedisError>]? {
        let result = Self.runOnPoolThread(slots: slots, configuration: configuration) { connection throws(RedisError) in
            try connection.pipeline(commands)
        }
        switch result {
        case .success(let replies):
            return replies
        case .failure(let error):
            let retry = configuration.retryInterval.components
            let retryNanoseconds = UInt64(retry.seconds) * 1_000_000_000 + UInt64(retry.attoseconds / 1_000_000_000)
            skipUntil.store(DispatchTime.now().uptimeNanoseconds + retryNanoseconds, ordering: .relaxed)
            warnings.warn("Redis unavailable, using the store only: \(error.message)")
            return nil
        }
    }

    private static func runOnPoolThread(
        slots: ThreadSpecificVariable<ConnectionSlot>,
        configuration: RedisUserCacheConfiguration,
        _ body: (RedisConnection) throws(RedisError) -> [Result<RedisReply, RedisError>]
    ) -> Result<[Result<RedisReply, RedisError>], RedisError> {
        let slot = slots.currentValue ?? ConnectionSlot()
        if slots.currentValue == nil { slots.currentValue = slot }
        do throws(RedisError) {
            let connection: RedisConnection
            if let existing = slot.connection, existing.isHealthy {
                connection = existing
            } else {
                slot.connection = nil
                connection = try RedisConnection(host: configuration.host, port: configuration.port, timeout: configuration.timeout)
                if let password = configuration.password { _ = try connection.command("AUTH", password) }
                if configuration.database != 0 { _ = try connection.command("SELECT", String(configuration.database)) }
                slot.connection = connection
            }
            let reply = try body(connection)
            return .success(reply)
        } catch {
            // A failed command may leave a reply in flight: never reuse the connection after an error.
            slot.connection = nil
            return .failure(error)
        }
    }

    // MARK: Entry format

    /// `{"id":…,"username":…,"email":…,"created_at_ms":…}`
    static func encode(_ user: User) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 160)
        writer.beginObject()
        writer.key("id")
        writer.string(user.id.lowercasedText)
        writer.key("username")
        writer.string(user.username)
        writer.key("email")
        writer.string(user.email)
        writer.key("created_at_ms")
        writer.int(Int(RFC3339.milliseconds(user.createdAt)))
        writer.endObject()
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) -> User? {
        guard case .object(let object)? = try? JSONParser().parse(bytes),
            let id = object["id"]?.stringValue.flatMap(UUID.init(strictText:)),
            let username = object["username"]?.stringValue,
            let email = object["email"]?.stringValue,
            let millis = object["created_at_ms"]?.intValue
        else { return nil }
        return User(id: id, username: username, email: email, createdAt: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

/// Logs a warning at most once per interval, with how many were held back.
final class RateLimitedWarnings: Sendable {
    private let logger: Logger
    private let intervalNanoseconds: UInt64
    private let state = NIOLockedValueBox<(last: UInt64, suppressed: Int)>((0, 0))

    init(logger: Logger, interval: Duration) {
        self.logger = logger
        self.intervalNanoseconds = UInt64(interval.components.seconds) * 1_000_000_000
    }

    func warn(_ message: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        let suppressed: Int? = state.withLockedValue { state in
            guard state.last == 0 || now - state.last >= intervalNanoseconds else {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        logger.warning("\(message)", metadata: suppressed > 0 ? ["suppressed_since_last": "\(suppressed)"] : [:])
    }
}

/// Runs blocking work on the cache's own threads.
private struct CacheExecutor: BlockingExecutor {
    let threads: NIOThreadPool
    let threadCount: Int

    func execute(_ work: @escaping @Sendable (Bool) -> Void) {
        threads.submit { state in work(state == .active) }
    }
}
