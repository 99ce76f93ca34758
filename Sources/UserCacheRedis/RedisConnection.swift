import CHiredis

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An error talking to Redis.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { "Redis: \(message)" }
}

/// One reply, copied out of hiredis.
public enum RedisReply: Sendable, Hashable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case null
    case other(Int32)
}

/// One hiredis connection with connect and command timeouts. Blocking: use it only on a thread that may
/// block. Commands are sent as argument vectors with byte lengths (binary-safe, never formatted strings).
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects to `host:port`, waiting at most `timeout` for the connection and, later, for each reply.
    public init(host: String, port: Int, timeout: Duration) throws(RedisError) {
        let tv = Self.timeval(timeout)
        guard let context = redisConnectWithTimeout(host, Int32(port), tv) else {
            throw RedisError(message: "cannot allocate a connection")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw RedisError(message: message)
        }
        redisSetTimeout(context, tv)
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    /// Whether hiredis has seen the connection fail (a later command would fail too).
    public var isHealthy: Bool { context.pointee.err == 0 }

    /// Sends one command and waits for its reply.
    public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try pipeline([arguments])[0].get()
    }

    /// Sends several commands in one write and reads their replies in order: one round trip. An
    /// error reply fails only its own command; an I/O failure throws (the connection is then unusable).
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [Result<RedisReply, RedisError>] {
        for arguments in commands {
            let copies: [UnsafeMutablePointer<CChar>] = arguments.map { argument in
                let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, argument.count))
                argument.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(pointer, base, argument.count) }
                }
                return pointer
            }
            defer { for copy in copies { copy.deallocate() } }
            var argv: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
            var lengths: [Int] = arguments.map(\.count)
            guard redisAppendCommandArgv(context, Int32(arguments.count), &argv, &lengths) == REDIS_OK else {
                throw RedisError(message: Self.errorString(context))
            }
        }
        var replies: [Result<RedisReply, RedisError>] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw RedisError(message: Self.errorString(context))
            }
            defer { freeReplyObject(raw) }
            replies.append(Self.reply(raw.assumingMemoryBound(to: redisReply.self).pointee))
        }
        return replies
    }

    private static func reply(_ reply: redisReply) -> Result<RedisReply, RedisError> {
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .success(.string(reply.str.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(reply.len))) } ?? []))
        case REDIS_REPLY_STATUS:
            return .success(.status(reply.str.map { String(cString: $0) } ?? ""))
        case REDIS_REPLY_INTEGER:
            return .success(.integer(Int64(reply.integer)))
        case REDIS_REPLY_NIL:
            return .success(.null)
        case REDIS_REPLY_ERROR:
            return .failure(RedisError(message: reply.str.map { String(cString: $0) } ?? "error reply"))
        default:
            return .success(.other(reply.type))
        }
    }

    /// Sends one command made of strings.
    public func command(_ arguments: String...) throws(RedisError) -> RedisReply {
        try command(arguments.map { Array($0.utf8) })
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "connection error \(context.pointee.err)" : String(decoding: bytes, as: UTF8.self)
        }
    }
}
