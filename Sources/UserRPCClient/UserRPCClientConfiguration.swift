import UserRPCWire

extension UserRPCClient {
    /// Where the server is and how calls behave by default.
    public struct Configuration: Sendable, Hashable {
        /// Server host. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// Server port. Default `50051`.
        public var port: Int = 50051
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

        /// The server at `host`:`port` (`127.0.0.1:50051` by default), other settings at their defaults.
        public init(host: String = "127.0.0.1", port: Int = 50051) {
            self.host = host
            self.port = port
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

        /// Options with this deadline and metadata; the defaults add nothing to the client's configuration.
        public init(timeout: Duration? = nil, metadata: [String: String] = [:]) {
            self.timeout = timeout
            self.metadata = metadata
        }
    }
}

/// Per-call settings: a deadline and metadata (``UserRPCClient/CallOptions``).
public typealias CallOptions = UserRPCClient.CallOptions
