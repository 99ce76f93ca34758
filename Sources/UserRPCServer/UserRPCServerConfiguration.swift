/// How the server listens and what it tolerates. Every field has a documented default.
public struct UserRPCServerConfiguration: Sendable, Hashable {
    /// Address to bind. Default `127.0.0.1` (loopback only).
    public var host: String = "127.0.0.1"
    /// TCP port. Default `50051`; `0` picks a free port (see ``UserRPCServer/listeningAddress``).
    public var port: Int = 50051
    /// Largest frame body accepted, in bytes. Default 4 MiB.
    public var maxFrameBytes: Int = 4 * 1024 * 1024
    /// How long in-flight calls may run after a graceful shutdown begins. Default 10 s.
    public var gracePeriod: Duration = .seconds(10)
    /// Calls in flight on one connection before new ones get RESOURCE_EXHAUSTED. Default 1000.
    public var maxConcurrentCallsPerConnection: Int = 1000

    public init() {}

    /// The defaults, changed by `configure`.
    public static func defaults(configure: (inout Self) -> Void = { _ in }) -> Self {
        var configuration = Self()
        configure(&configuration)
        return configuration
    }
}
