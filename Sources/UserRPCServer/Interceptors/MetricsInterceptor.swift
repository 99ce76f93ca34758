import Metrics
import NIOCore
import UserRPCWire

/// Counts and times every call, through swift-metrics:
///
/// - `user_rpc_calls_total{method, code}`: calls answered, by method and status code name;
/// - `user_rpc_call_duration_seconds{method}`: from the frame's arrival to the answer (a timer,
///   a histogram in Prometheus);
/// - `user_rpc_calls_in_flight`: calls begun and not yet answered;
/// - `user_rpc_calls_abandoned_total{method}`: calls in flight when their connection closed.
///
/// The `method` label is one of the methods the server hosts, or `unknown` (a client cannot grow
/// the number of series by calling made-up names). All handles are made once, up front: a call
/// costs a dictionary lookup, two atomic increments and a clock reading.
public struct MetricsInterceptor: ServerInterceptor {
    private struct MethodMetrics: Sendable {
        /// Indexed by the code's numeric value (0…16).
        let calls: [Counter]
        let duration: Timer
        let abandoned: Counter
    }

    private let methods: [String: MethodMetrics]
    private let unknown: MethodMetrics
    private let inFlight: Meter
    private let now: @Sendable () -> NIODeadline

    /// - Parameters:
    ///   - methods: the full names of the methods the server hosts (``UserRPCServer/methodNames``).
    ///   - factory: where the metrics go; the process-wide `MetricsSystem.factory` by default.
    ///   - clock: the connections' event-loop clock, which ``ServerContext/receivedAt`` is read on
    ///     (`NIODeadline.now` on a real event loop; a test's manual clock on an `EmbeddedEventLoop`).
    public init(
        methods: [String], factory: any MetricsFactory = MetricsSystem.factory, clock: @escaping @Sendable () -> NIODeadline = { .now() }
    ) {
        func make(_ method: String) -> MethodMetrics {
            MethodMetrics(
                calls: RPCStatus.Code.allCases.sorted { $0.numericValue < $1.numericValue }.map { code in
                    Counter(label: "user_rpc_calls_total", dimensions: [("method", method), ("code", code.rawValue)], factory: factory)
                },
                duration: Timer(label: "user_rpc_call_duration_seconds", dimensions: [("method", method)], factory: factory),
                abandoned: Counter(label: "user_rpc_calls_abandoned_total", dimensions: [("method", method)], factory: factory))
        }
        self.methods = Dictionary(methods.map { ($0, make($0)) }, uniquingKeysWith: { first, _ in first })
        self.unknown = make("unknown")
        self.inFlight = Meter(label: "user_rpc_calls_in_flight", factory: factory)
        self.now = clock
    }

    private func metrics(_ method: String) -> MethodMetrics {
        methods[method] ?? unknown
    }

    public func willRun(_ context: inout ServerContext) -> RPCError? {
        inFlight.increment()
        return nil
    }

    public func didAnswer(_ context: ServerContext, code: RPCStatus.Code) {
        if context.intercepted { inFlight.decrement() }
        let metrics = metrics(context.method)
        metrics.calls[code.numericValue].increment()
        let elapsed = now() - context.receivedAt
        metrics.duration.recordNanoseconds(max(0, elapsed.nanoseconds))
    }

    public func didAbandon(_ context: ServerContext) {
        if context.intercepted { inFlight.decrement() }
        metrics(context.method).abandoned.increment()
    }
}
