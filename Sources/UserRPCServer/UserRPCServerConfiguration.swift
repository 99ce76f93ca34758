/// How the server listens and what it tolerates. Every field has a documented default.
public struct UserRPCServerConfiguration: Sendable, Hashable {
    /// Address to bind. Default `127.0.0.1` (loopback only).
    public var host: String = "127.0.0.1"
    /// TCP port. Default `50051`; `0` picks a free port (see ``UserRPCServer/listeningAddress``).
    public var port: Int = 50051
    /// Largest frame body accepted, in bytes. Default 4 MiB.
    public var maxFrameBytes: Int = 4 * 1024 * 1024
    /// How long in-flight calls may run after a graceful shutdown begins; then each connection's
    /// remaining calls are answered UNAVAILABLE and it is closed at once. Default 10 s.
    public var gracePeriod: Duration = .seconds(10)
    /// How long the server keeps serving after a graceful shutdown begins, with health checks
    /// answering NOT_SERVING, before it stops accepting connections and sends `goaway`: time for a
    /// load balancer's probe to see it and stop sending calls here. Default 0 (no delay).
    public var shutdownDrainDelay: Duration = .zero
    /// Calls in flight on one connection before new ones get RESOURCE_EXHAUSTED. Default 1000.
    public var maxConcurrentCallsPerConnection: Int = 1000
    /// Open connections; one more is closed at once (and counted). Default 10,000.
    public var maxConnections: Int = 10_000
    /// Once the first byte of a frame has arrived, the frame gets this long, plus one second for
    /// every ``minimumReadBytesPerSecond`` bytes of it received (see ``FrameArrivalRule``). Default 10 s.
    public var readTimeout: Duration = .seconds(10)
    /// The data rate a large frame must keep after ``readTimeout``, in bytes per second; `0`: the
    /// whole frame must arrive within ``readTimeout``. Default 16 KiB/s (a 4 MiB frame may take 266 s).
    public var minimumReadBytesPerSecond: Int = 16 * 1024
    /// A connection with no call in flight and nothing received for this long gets `goaway` and is
    /// closed. Default 5 minutes.
    public var idleTimeout: Duration = .seconds(300)
    /// The longest deadline a unary call may have: a larger `timeout_ms` is capped to it. Default
    /// 60 s. (A server-streaming call has the deadline its client sets, or none.)
    public var maxTimeout: Duration = .seconds(60)
    /// The deadline of a unary call that sets no `timeout_ms`. Default 30 s.
    public var defaultTimeout: Duration = .seconds(30)
    /// How many messages a server-streaming call may receive before its client grants more, when its
    /// request sets no `window`. Default 64.
    public var defaultStreamWindow: UInt64 = 64
    /// Responses waiting to be written, in bytes, above which the server stops reading from that
    /// connection until the client reads. Default 1 MiB.
    public var writeBufferHighWaterMark: Int = 1024 * 1024
    /// How long a connection may stay over the high-water mark before it is closed. Default 30 s.
    public var writeStallTimeout: Duration = .seconds(30)

    /// After goaway, once no call is in flight, how long the connection stays open to answer requests
    /// that crossed the goaway (UNAVAILABLE) before the server shuts its side; then how long it waits
    /// for the client to close. Default 1 s.
    public var closeLinger: Duration = .seconds(1)

    /// Bearer tokens accepted in the `authorization` metadata entry (`Bearer <token>`). Empty (the
    /// default): no authentication.
    public var authTokens: [String] = []
    /// Full method names callable without a token when tokens are set. Default: none.
    public var unauthenticatedMethods: Set<String> = []
    /// Full service names whose methods are callable without a token. Default: `health.v1.Health`
    /// (probes carry no token; a health answer reveals nothing about users).
    public var unauthenticatedServices: Set<String> = ["health.v1.Health"]

    /// Whether the server hosts `reflection.v1.Reflection`, which lists its services and serves
    /// their schemas (to callers with a token, when tokens are on). Default `true`.
    public var reflection: Bool = true

    /// TLS for the listening port; `nil` (the default): plaintext.
    public var tls: TLSSettings?

    public init() {}

    /// The defaults, changed by `configure`.
    public static func defaults(configure: (inout Self) -> Void = { _ in }) -> Self {
        var configuration = Self()
        configure(&configuration)
        return configuration
    }
}

/// Where the server's TLS certificate and key are, and (for mutual TLS) which CA signs client certificates.
public struct TLSSettings: Sendable, Hashable {
    /// PEM file: the server's certificate, then any intermediates.
    public var certificateChainPath: String
    /// PEM file: the server's private key.
    public var privateKeyPath: String
    /// PEM file of CA certificates. When set, every client must present a certificate signed by one
    /// of them (mutual TLS); when `nil`, clients are not asked for one.
    public var clientCAPath: String?

    public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
    }
}
