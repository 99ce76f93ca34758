import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOPosix
import StrictJSON
import Synchronization
import UserCore

/// The production cache: users in Redis under `user:e2:<id>`, through hiredis, with a TTL.
///
/// A cache is never a point of failure: when Redis is down, slow (past ``RedisUserCacheConfiguration/timeout``)
/// or answers garbage, a read is a miss and a write is dropped, with a rate-limited warning; after a
/// failure, calls skip Redis for ``RedisUserCacheConfiguration/retryInterval``, then try again, so it
/// recovers by itself. hiredis is blocking, so commands run on a small thread pool, one connection per thread.
///
/// Changes reach the cache before their calls are answered: a changed user's entry is rewritten, a
/// deleted user's replaced by a tombstone, both guarded by the entry's rank (``CacheEntryRank``, written
/// in front of each entry) in a Redis script that compares two numbers (``guardedSetScript``); fills after a miss and primes after a registration only set a key that is
/// absent (`SET … NX`). So a read that raced with a change never puts an older user back. When a write cannot reach Redis, the key is remembered and deleted as soon as Redis answers
/// again, before anything else is sent (see `pendingDeletes`).
public final class RedisUserCache: UserCache {
    public let configuration: RedisUserCacheConfiguration
    private let threads: NIOThreadPool
    private let slots = ThreadSpecificVariable<ConnectionSlot>()
    private let warnings: RateLimitedWarnings
    private let lookups: LookupMetrics
    /// Until when (monotonic nanoseconds) Redis is skipped after a failure.
    private let skipUntil = Atomic<UInt64>(0)
    /// Keys whose write failed: Redis may still hold an older entry for them, which is deleted before
    /// the next command this cache sends to Redis.
    private let pendingDeletes = NIOLockedValueBox<Set<UUID>>([])

    /// `@unchecked Sendable`: a slot lives in thread-specific storage, so only its own pool thread ever
    /// touches it; the type must be `Sendable` only because `ThreadSpecificVariable` is shared.
    private final class ConnectionSlot: @unchecked Sendable {
        var connection: RedisConnection?
    }

    /// The cache key of a user. It carries the version of the entry's layout (`e2`: the user with
    /// `updated_at_ms` and `version`), not of any API: every API version reads the same entries.
    /// Entries now carry their rank in front (``encode(_:)``); entries written without it, by servers
    /// from before, are read and ranked too, so servers of both kinds share one key per user during
    /// a rolling upgrade and every change reaches every server's readers.
    public static func key(for id: UUID) -> String { "user:e2:\(id.lowercasedText)" }

    /// - Parameter metricsFactory: where the lookup counts go (`user_rpc_cache_lookups_total{result}`:
    ///   `hit`, `miss`, `unavailable`); the process-wide `MetricsSystem.factory` by default.
    public init(
        configuration: RedisUserCacheConfiguration, logger: Logger = Logger(label: "user-rpc-server.redis"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.lookups = LookupMetrics(factory: metricsFactory)
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
        guard !ids.isEmpty else { return }
        guard !skipping else { return lookups.unavailable.increment(by: ids.count) }
        let idList = Array(ids)
        guard let replies = runHere(idList.map(Self.getCommand)) else { return lookups.unavailable.increment(by: ids.count) }
        var unreadable: [UUID] = []
        var hits = 0
        defer {
            lookups.hits.increment(by: hits)
            lookups.misses.increment(by: idList.count - hits)
        }
        for (reply, id) in zip(replies, idList) {
            switch reply {
            case .success(let reply):
                switch decodeEntry(reply, id: id) {
                case .user(let user):
                    hits += 1
                    found(user)
                case .absent: break
                case .unreadable: unreadable.append(id)
                }
            case .failure:
                warnings.warn("Redis answered GET with an error; reading from the store")
                unreadable.append(id)
            }
        }
        // An unreadable entry is deleted (fills only set absent keys): the store answers, and the
        // next fill repairs it.
        if !unreadable.isEmpty { _ = runHere(unreadable.map { [Array("DEL".utf8), Array(Self.key(for: $0).utf8)] }) }
    }

    /// One pipelined round trip of version-guarded SETs.
    public func store(_ users: [User]) {
        write(users.map { (id: $0.id, entry: Self.encode($0), rank: CacheEntryRank.of($0)) })
    }

    /// One pipelined round trip of `SET … EX … NX`: an entry already there is a change's, a deletion's
    /// or another fill's, never older than a user just read or just registered, so it is kept. A
    /// fill that cannot reach Redis leaves nothing behind to delete.
    public func fill(_ users: [User]) {
        guard !users.isEmpty, !skipping else { return }
        let ttl = Array(String(configuration.ttlSeconds).utf8)
        let commands = users.map { user in
            [Array("SET".utf8), Array(Self.key(for: user.id).utf8), Self.encode(user), Array("EX".utf8), ttl, Array("NX".utf8)]
        }
        guard let replies = runHere(commands) else { return }
        for case .failure(let error) in replies {
            warnings.warn("Redis refused a cache write: \(error.message)")
        }
    }

    /// One pipelined round trip of version-guarded tombstones.
    public func storeDeleted(_ users: [User]) {
        write(users.map { (id: $0.id, entry: Self.encodeTombstone($0), rank: CacheEntryRank.ofDeletion($0)) })
    }

    /// A PING round trip; a failure also pauses the cache like any failed call.
    public func unavailability() -> String? {
        guard let replies = runHere([[Array("PING".utf8)]]) else {
            return "unreachable at \(configuration.host):\(configuration.port); calls are served from the store alone"
        }
        if case .failure(let error) = replies.first { return "PING failed: \(error.message)" }
        return nil
    }

    /// Writes entries with ``guardedSetScript``. When Redis cannot be reached (or is being skipped
    /// after a failure), the keys are remembered for deletion: an older entry must not outlive the
    /// change that this write was for.
    private func write(_ entries: [(id: UUID, entry: [UInt8], rank: UInt64)]) {
        guard !entries.isEmpty else { return }
        guard !skipping, let replies = runHere(entries.map(guardedSetCommand)) else {
            remember(entries.map(\.id))
            return
        }
        for case .failure(let error) in replies {
            warnings.warn("Redis refused a cache write: \(error.message)")
        }
    }

    /// Remembers keys to delete as soon as Redis answers again, and makes sure that happens even if
    /// no call comes: a retry on this cache's own threads every ``RedisUserCacheConfiguration/retryInterval``
    /// until the deletes are through.
    private func remember(_ ids: some Sequence<UUID>) {
        let first = pendingDeletes.withLockedValue { pending in
            let wasEmpty = pending.isEmpty
            pending.formUnion(ids)
            return wasEmpty && !pending.isEmpty
        }
        if first { scheduleDeleteRetry() }
    }

    private func scheduleDeleteRetry() {
        let interval = configuration.retryInterval.components
        let nanoseconds = Int(interval.seconds) * 1_000_000_000 + Int(interval.attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(max(1_000_000, nanoseconds))) { [weak self] in
            guard let self else { return }
            self.threads.submit { state in
                guard state == .active else { return }
                // An empty pipeline: `runHere` sends the pending deletes first, or remembers them again.
                if !self.skipping { _ = self.runHere([]) }
                if self.pendingDeletes.withLockedValue({ !$0.isEmpty }) { self.scheduleDeleteRetry() }
            }
        }
    }

    /// Sets `KEYS[1]` to `ARGV[1]` (which starts with its rank) with the TTL `ARGV[3]`, unless the
    /// entry there has a rank at least `ARGV[2]`: the Redis side of ``CacheEntryRank/replaces(_:over:)``,
    /// a comparison of two numbers (what the ranks mean is `CacheEntryRank`'s, in UserCore).
    ///
    /// Compatibility, to be removed once no server from before 2026-12-06 runs against the cache: an
    /// entry without a rank in front, as those servers write it, is ranked from its JSON as they rank
    /// it (twice `"version"`, plus one with `"deleted":true`). An entry with neither is replaced.
    static let guardedSetScript = """
        local current = redis.call('GET', KEYS[1])
        if current then
          local rank = tonumber(string.match(current, '^(%d+) '))
          if not rank then
            local version = tonumber(string.match(current, '"version":(%d+)'))
            if version then
              rank = 2 * version
              if string.find(current, '"deleted":true', 1, true) then rank = rank + 1 end
            end
          end
          if rank and rank >= tonumber(ARGV[2]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
        return 1
        """

    private func guardedSetCommand(_ entry: (id: UUID, entry: [UInt8], rank: UInt64)) -> [[UInt8]] {
        [
            Array("EVAL".utf8), Array(Self.guardedSetScript.utf8), Array("1".utf8), Array(Self.key(for: entry.id).utf8), entry.entry,
            Array(String(entry.rank).utf8), Array(String(configuration.ttlSeconds).utf8),
        ]
    }

    // MARK: Commands

    private static func getCommand(_ id: UUID) -> [[UInt8]] {
        [Array("GET".utf8), Array(key(for: id).utf8)]
    }

    /// The user in a GET reply; `nil` (with a warning for garbage) otherwise.
    private enum Entry {
        case user(User)
        /// No entry, or a tombstone: a miss.
        case absent
        case unreadable
    }

    private func decodeEntry(_ reply: RedisReply?, id: UUID) -> Entry {
        switch reply {
        case nil, .null?:
            return .absent
        case .string(let bytes)?:
            if Self.isTombstone(bytes) { return .absent }
            guard let user = Self.decode(bytes), user.id == id else {
                warnings.warn("Redis returned an unreadable entry; reading from the store")
                return .unreadable
            }
            return .user(user)
        default:
            warnings.warn("Redis answered GET with an unexpected reply; reading from the store")
            return .unreadable
        }
    }

    /// Whether Redis is being skipped after a recent failure.
    private var skipping: Bool {
        DispatchTime.now().uptimeNanoseconds < skipUntil.load(ordering: .relaxed)
    }

    /// Runs commands pipelined on the calling thread's connection; `nil` (and a warning, and a pause
    /// before Redis is tried again) when the connection fails.
    private func runHere(_ commands: [[[UInt8]]]) -> [Result<RedisReply, RedisError>]? {
        // Keys whose write failed before go first: deleted in the same round trip, before the
        // commands of this call can read them.
        let deletes = pendingDeletes.withLockedValue { pending in
            defer { pending.removeAll() }
            return pending
        }
        let deleteCommand: [[[UInt8]]] = deletes.isEmpty ? [] : [[Array("DEL".utf8)] + deletes.map { Array(Self.key(for: $0).utf8) }]
        let result = Self.runOnPoolThread(slots: slots, configuration: configuration) { connection throws(RedisError) in
            try connection.pipeline(deleteCommand + commands)
        }
        switch result {
        case .success(let replies):
            if !deletes.isEmpty, case .failure = replies[0] { remember(deletes) }
            return Array(replies.dropFirst(deleteCommand.count))
        case .failure(let error):
            if !deletes.isEmpty { remember(deletes) }
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

    /// Layout `e2`: the rank (``CacheEntryRank/of(_:)``), a space, then
    /// `{"id":…,"username":…,"email":…,"created_at_ms":…,"updated_at_ms":…,"version":…}`.
    static func encode(_ user: User) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 200)
        writer.beginObject()
        writer.key("id")
        writer.string(user.id.lowercasedText)
        writer.key("username")
        writer.string(user.username)
        writer.key("email")
        writer.string(user.email)
        writer.key("created_at_ms")
        writer.int(Int(user.createdAtMilliseconds))
        writer.key("updated_at_ms")
        writer.int(Int(user.updatedAtMilliseconds))
        writer.key("version")
        writer.uint64(user.version)
        writer.endObject()
        return Array("\(CacheEntryRank.of(user)) ".utf8) + writer.bytes
    }

    /// A deleted user: its tombstone's rank (``CacheEntryRank/ofDeletion(_:)``), a space, then
    /// `{"id":…,"deleted":true,"version":…}` (the version it had when deleted).
    static func encodeTombstone(_ user: User) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 96)
        writer.beginObject()
        writer.key("id")
        writer.string(user.id.lowercasedText)
        writer.key("deleted")
        writer.bool(true)
        writer.key("version")
        writer.uint64(user.version)
        writer.endObject()
        return Array("\(CacheEntryRank.ofDeletion(user)) ".utf8) + writer.bytes
    }

    /// The JSON object of an entry: after its rank, or the whole entry when it has none (written by
    /// a server from before ranks were written in front); `nil` when it is not such an object.
    private static func object(_ bytes: [UInt8]) -> JSONObject? {
        var json = bytes[...]
        let digits = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        if !digits.isEmpty, bytes.count > digits.count, bytes[digits.count] == UInt8(ascii: " ") { json = bytes[(digits.count + 1)...] }
        guard case .object(let object)? = try? JSONParser().parse(Array(json)) else { return nil }
        return object
    }

    static func isTombstone(_ bytes: [UInt8]) -> Bool {
        object(bytes)?["deleted"] == .bool(true)
    }

    static func decode(_ bytes: [UInt8]) -> User? {
        guard let object = object(bytes), let id = object["id"]?.stringValue, let username = object["username"]?.stringValue,
            let email = object["email"]?.stringValue, let created = object["created_at_ms"]?.intValue,
            let updated = object["updated_at_ms"]?.intValue, let version = object["version"]?.uint64Value
        else { return nil }
        return User(
            storedID: id, username: username, email: email, createdAtMilliseconds: Int64(created), updatedAtMilliseconds: Int64(updated),
            version: version)
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

/// `user_rpc_cache_lookups_total{result}`: users looked up in Redis, by outcome.
private struct LookupMetrics: Sendable {
    let hits: Counter
    let misses: Counter
    let unavailable: Counter

    init(factory: any MetricsFactory) {
        func counter(_ result: String) -> Counter {
            Counter(label: "user_rpc_cache_lookups_total", dimensions: [("result", result)], factory: factory)
        }
        hits = counter("hit")
        misses = counter("miss")
        unavailable = counter("unavailable")
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
