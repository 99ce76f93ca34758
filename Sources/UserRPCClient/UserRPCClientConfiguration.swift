import UserRPCWire

extension UserRPCClient {
    /// Where the servers are and how calls behave by default.
    public struct Configuration: Sendable, Hashable {
        /// The servers, each with a connection of its own: calls go round robin to those in rotation
        /// (a server leaves it on `goaway` or a failed connection, and comes back once it accepts one
        /// again). Default: `127.0.0.1:50051` alone. Must not be empty.
        public var endpoints: [Endpoint]
        /// The first endpoint's host (with one server: the server's). Default `127.0.0.1`.
        public var host: String {
            get { endpoints.first?.host ?? "127.0.0.1" }
            set { endpoints = [Endpoint(host: newValue, port: port)] + endpoints.dropFirst() }
        }
        /// The first endpoint's port. Default `50051`.
        public var port: Int {
            get { endpoints.first?.port ?? 50051 }
            set { endpoints = [Endpoint(host: host, port: newValue)] + endpoints.dropFirst() }
        }
        /// Timeout for calls that set none; `nil` (the default) means no deadline.
        public var defaultTimeout: Duration? = nil
        /// How long to wait for a TCP connection. Default 5 s.
        public var connectTimeout: Duration = .seconds(5)
        /// Largest response frame accepted. Default 4 MiB, as the server.
        public var maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes
        /// Metadata sent with every call (per-call metadata is merged over it).
        public var metadata: [String: String] = [:]
        /// A bearer token for servers that require one: sent as `authorization: Bearer <token>`.
        public var bearerToken: String? {
            get { metadata["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } }
            set { metadata["authorization"] = newValue.map { "Bearer \($0)" } }
        }

        /// TLS settings; `nil` (the default): plaintext.
        public var tls: TLS?

        /// How the client notices a server that has gone away without closing the connection (a
        /// machine that lost power, a network that drops packets): while calls wait and nothing has
        /// arrived for ``Keepalive/interval``, it sends a ping; with no answer within
        /// ``Keepalive/timeout`` its waiting calls fail UNAVAILABLE and the connection is dropped.
        /// Default: a 30 s interval, a 10 s timeout; `nil` turns it off.
        public var keepalive: Keepalive? = Keepalive()

        /// How calls that failed UNAVAILABLE are sent again; `nil` turns retries off. Only calls
        /// safe to repeat are retried: methods whose schema says `NO_SIDE_EFFECTS` or `IDEMPOTENT`
        /// (GetUser, SearchUsers, health and reflection), and RegisterUser when the call carries an
        /// idempotency key (``CallOptions/idempotencyKey``). Default: ``RetryPolicy/init()``.
        public var retry: RetryPolicy? = RetryPolicy()

        /// How long a server that failed a connection stays out of rotation (with several
        /// endpoints): this, doubled after each consecutive failure up to ``Backoff/maximum``.
        /// Default: 100 ms, at most 5 s. A server that sent `goaway` is out for ``Backoff/initial``.
        public var reconnectBackoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

        /// How many times in a row a resuming stream (``UserRPCClient/ResumingStream``, such as
        /// `client.v2.watchUsers`) calls again after it broke without a message in between, before
        /// its loop throws UNAVAILABLE. Default 8 (about 3 s of pauses: 25 ms, doubled up to 800 ms).
        public var streamResumeAttempts = 8

        /// The server at `host`:`port` (`127.0.0.1:50051` by default), other settings at their defaults.
        public init(host: String = "127.0.0.1", port: Int = 50051) {
            self.endpoints = [Endpoint(host: host, port: port)]
        }

        /// Several servers (a fleet), other settings at their defaults.
        public init(endpoints: [Endpoint]) {
            precondition(!endpoints.isEmpty, "a client needs at least one endpoint")
            self.endpoints = endpoints
        }
    }

    /// One server's address.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// Host name or IP address.
        public var host: String
        /// TCP port.
        public var port: Int

        /// The server at `host`:`port`.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port` (`[::1]:50051` for an IPv6 address); `nil` when `text` is not one.
        public init?(_ text: String) {
            let hostPart: Substring
            let portPart: Substring
            if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                hostPart = text[text.index(after: text.startIndex)..<close]
                guard text[close...].hasPrefix("]:") else { return nil }
                portPart = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { return nil }
                hostPart = text[..<colon]
                portPart = text[text.index(after: colon)...]
            }
            guard !hostPart.isEmpty, let port = Int(portPart), (1...65535).contains(port) else { return nil }
            self.init(host: String(hostPart), port: port)
        }

        /// `host:port`.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// A delay that doubles after each failure, up to a maximum.
    public struct Backoff: Sendable, Hashable {
        /// The first delay.
        public var initial: Duration
        /// The longest delay.
        public var maximum: Duration

        /// A backoff from `initial` doubling up to `maximum`.
        public init(initial: Duration, maximum: Duration) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The delay after `failures` consecutive failures (1: ``initial``).
        public func delay(afterFailures failures: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(1, failures) {
                delay *= 2
                if delay >= maximum { return maximum }
            }
            return min(delay, maximum)
        }
    }

    /// Retries of calls that failed UNAVAILABLE (a server restarting, draining or unreachable), in
    /// the manner of gRPC's retry policy and retry throttling.
    ///
    /// Attempt *n* + 1 waits a random time between 0 and ``backoff``'s delay after *n* failures
    /// ("full jitter"), and is made only if the call's deadline leaves time for it (each attempt gets
    /// what remains of it as its `timeout_ms`). A budget shared by all the client's calls stops
    /// retrying when many calls fail: it starts with ``budgetTokens`` tokens, each failed attempt
    /// takes one, each success gives back ``budgetRefill``; retries are made only while more than
    /// half the tokens are left.
    public struct RetryPolicy: Sendable, Hashable {
        /// Attempts in all, the first included. Default 4.
        public var maxAttempts: Int = 4
        /// The delays between attempts. Default 50 ms, doubling, at most 1 s.
        public var backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(1))
        /// The budget's size. Default 100: a server that dies with dozens of calls in flight does not
        /// use it up, a fleet that fails call after call does, after about 50 failures more than
        /// a tenth of the successes.
        public var budgetTokens: Double = 100
        /// Tokens a successful attempt gives back. Default 0.1.
        public var budgetRefill: Double = 0.1

        /// The defaults above.
        public init() {}

        /// The delay before attempt `attempt` + 1 (after `attempt` failed attempts), for a random
        /// fraction `random` in 0..<1.
        public func delay(afterAttempt attempt: Int, random: Double) -> Duration {
            backoff.delay(afterFailures: attempt) * random
        }
    }

    /// Keepalive pings on a connection with calls waiting (see ``Configuration/keepalive``).
    public struct Keepalive: Sendable, Hashable {
        /// Silence (nothing received) with calls waiting before a ping is sent. Default 30 s.
        public var interval: Duration
        /// How long the ping's answer (or any byte) may take before the connection is given up. Default 10 s.
        public var timeout: Duration

        /// Keepalive with this interval and timeout.
        public init(interval: Duration = .seconds(30), timeout: Duration = .seconds(10)) {
            self.interval = interval
            self.timeout = timeout
        }
    }

    /// How the client secures its connection.
    public struct TLS: Sendable, Hashable {
        /// PEM file of CA certificates to trust for the server's certificate; `nil`: the system's.
        public var trustedCAPath: String?
        /// PEM file of a client certificate chain, for servers that require one (mutual TLS); used with ``privateKeyPath``.
        public var certificatePath: String?
        /// PEM file of the client certificate's private key; used with ``certificatePath``.
        public var privateKeyPath: String?
        /// The name to verify the server's certificate against (and to send as SNI); `nil`: the host
        /// when it is a name, or the peer's IP address when the host is an address.
        public var serverHostname: String?

        /// TLS with these settings; all `nil` (the default) trusts the system's CAs and sends no client certificate.
        public init(trustedCAPath: String? = nil, certificatePath: String? = nil, privateKeyPath: String? = nil, serverHostname: String? = nil) {
            self.trustedCAPath = trustedCAPath
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
            self.serverHostname = serverHostname
        }
    }

    /// Per-call settings: a deadline and metadata. (Also spelled ``CallOptions`` at the top level.)
    public struct CallOptions: Sendable, Hashable {
        /// The call's deadline, sent as `timeout_ms` and enforced locally too; `nil` uses the client's
        /// ``UserRPCClient/Configuration/defaultTimeout``.
        public var timeout: Duration?
        /// Metadata for this call only, merged over the client's ``UserRPCClient/Configuration/metadata``.
        public var metadata: [String: String]

        /// Options with this deadline and metadata, and an idempotency key when given (see
        /// ``idempotencyKey``); the defaults add nothing to the client's configuration.
        public init(timeout: Duration? = nil, metadata: [String: String] = [:], idempotencyKey: String? = nil) {
            self.timeout = timeout
            self.metadata = metadata
            if let idempotencyKey { self.metadata["idempotency-key"] = idempotencyKey }
        }

        /// The `idempotency-key` metadata entry: a RegisterUser call that carries one is answered
        /// with the first registration when it is repeated (PROTOCOL.md section 5.2), so the client
        /// retries it like a read. Use a new random key (a UUID) per registration, and the same key
        /// for every attempt of it.
        public var idempotencyKey: String? {
            get { metadata["idempotency-key"] }
            set { metadata["idempotency-key"] = newValue }
        }
    }
}

/// Per-call settings: a deadline and metadata (``UserRPCClient/CallOptions``).
public typealias CallOptions = UserRPCClient.CallOptions
