/// How the Redis cache connects and behaves. Every field has a default.
public struct RedisUserCacheConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 6379
    /// `AUTH` password, if the server needs one.
    public var password: String?
    /// Database number for `SELECT`. Default 0.
    public var database: Int = 0
    /// How long a cache entry lives. Default 3600 s.
    public var ttlSeconds: Int = 3600
    /// Longest wait for a connection or a reply before the cache is skipped for that call. Default 50 ms.
    public var timeout: Duration = .milliseconds(50)
    /// After a failure, how long calls skip Redis before it is tried again. Default 1 s.
    public var retryInterval: Duration = .seconds(1)
    /// Connections (and threads running their blocking hiredis calls). Default 4.
    public var poolSize: Int = 4

    public init() {}

    /// Reads `redis://[:password@]host[:port][/database]`.
    public init(url: String) throws(RedisError) {
        self.init()
        guard url.hasPrefix("redis://") else { throw RedisError(message: "URL must start with redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            // redis://user:password@ or redis://:password@ — the part after the first ':' is the password.
            if let colon = credentials.firstIndex(of: ":") {
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncodingIfPossible
            } else if !credentials.isEmpty {
                password = String(credentials)
            }
            rest = rest[rest.index(after: at)...]
        }
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw RedisError(message: "database must be a number") }
                database = number
            }
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw RedisError(message: "port must be 1...65535")
            }
            port = number
            rest = rest[..<colon]
        }
        if !rest.isEmpty { host = String(rest) }
    }
}

extension String {
    /// Decodes `%XX` escapes when they are well-formed; otherwise the text as it is.
    fileprivate var removingPercentEncodingIfPossible: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
