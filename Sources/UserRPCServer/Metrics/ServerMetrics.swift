import Metrics

/// The server's own metrics, through swift-metrics: connections and the frames it rejected. The
/// calls themselves are counted by ``MetricsInterceptor``. All names are documented in
/// `docs/OPERATIONS.md`.
struct ServerMetrics: Sendable {
    /// Why a frame was not served as a call.
    enum FrameRejection: String, CaseIterable, Sendable {
        /// A length prefix of 0.
        case empty
        /// A length prefix over `maxFrameBytes`: the connection is closed.
        case tooLarge = "too_large"
        /// A frame with a usable id but a bad envelope: answered INVALID_ARGUMENT.
        case invalidEnvelope = "invalid_envelope"
        /// A malformed `ping` or `cancel`: dropped without an answer.
        case malformedControl = "malformed_control"
        /// Not JSON, or no usable id: the connection is closed.
        case unreadable
    }

    /// `user_rpc_connections_open`: connections open now.
    let openConnections: Meter
    /// `user_rpc_connections_total`: connections accepted since start.
    let acceptedConnections: Counter
    /// `user_rpc_rejected_connections_total`: connections closed at once because `maxConnections` were open.
    let rejectedConnections: Counter
    /// `user_rpc_calls_in_flight`: calls waiting for storage (PostgreSQL, Redis, the embedded
    /// store's writes); a call answered at once on the event loop is never counted.
    let callsInFlight: Meter
    /// `user_rpc_frames_rejected_total{reason}`.
    private let rejectedFrames: [FrameRejection: Counter]

    init(factory: any MetricsFactory) {
        openConnections = Meter(label: "user_rpc_connections_open", factory: factory)
        acceptedConnections = Counter(label: "user_rpc_connections_total", factory: factory)
        rejectedConnections = Counter(label: "user_rpc_rejected_connections_total", factory: factory)
        callsInFlight = Meter(label: "user_rpc_calls_in_flight", factory: factory)
        rejectedFrames = Dictionary(
            uniqueKeysWithValues: FrameRejection.allCases.map { reason in
                (reason, Counter(label: "user_rpc_frames_rejected_total", dimensions: [("reason", reason.rawValue)], factory: factory))
            })
    }

    func rejectedFrame(_ reason: FrameRejection) {
        rejectedFrames[reason]?.increment()
    }
}
