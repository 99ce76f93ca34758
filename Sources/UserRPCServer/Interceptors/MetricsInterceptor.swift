import Metrics
import NIOCore
import UserRPCWire

/// Counts and times every call, through swift-metrics:
///
/// - `user_rpc_calls_total{method, code}`: calls answered, by method and status code name;
/// - `user_rpc_call_duration_seconds{method}`: from the frame's arrival to the answer (a timer,
///   a histogram in Prometheus);
/// - `user_rpc_calls_abandoned_total{method}`: calls in flight when their connection closed.
///
/// The `method` label is one of the methods the server hosts, or `unknown` (a client cannot grow
/// the number of series by calling made-up names). All handles are made once, up front: a call
/// costs an array lookup by its route's index, a counter increment, a histogram update and a clock
/// reading.
public struct MetricsInterceptor: ServerInterceptor {
    private struct MethodMetrics: Sendable {
        let name: String
        /// Indexed by the code's numeric value (0…16).
        let calls: [Counter]
        let duration: Timer
        let abandoned: Counter
    }

    private let methods: [String: MethodMetrics]
    /// The same, in the order of the server's sorted method names (``RPCRouter/numberRoutes()``):
    /// a call's metrics are found by its route's index, without hashing its name.
    private let methodsByIndex: [MethodMetrics]
    private let unknown: MethodMetrics
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
                name: method,
                calls: RPCStatus.Code.allCases.sorted { $0.numericValue < $1.numericValue }.map { code in
                    Counter(label: "user_rpc_calls_total", dimensions: [("method", method), ("code", code.rawValue)], factory: factory)
                },
                duration: Timer(label: "user_rpc_call_duration_seconds", dimensions: [("method", method)], factory: factory),
                abandoned: Counter(label: "user_rpc_calls_abandoned_total", dimensions: [("method", method)], factory: factory))
        }
        self.methodsByIndex = methods.map(make)
        self.methods = Dictionary(methodsByIndex.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.unknown = make("unknown")
        self.now = clock
    }

    private func metrics(_ context: ServerContext) -> MethodMetrics {
        // The route's index, checked against the name (the same string object: a pointer compare),
        // in case this interceptor was given the methods in another order.
        let index = context.routeIndex
        if index >= 0, index < methodsByIndex.count, methodsByIndex[index].name == context.method { return methodsByIndex[index] }
        return methods[context.method] ?? unknown
    }

    public func didAnswer(_ context: ServerContext, code: RPCStatus.Code) {
        let metrics = metrics(context)
        metrics.calls[code.numericValue].increment()
        let elapsed = now() - context.receivedAt
        metrics.duration.recordNanoseconds(max(0, elapsed.nanoseconds))
    }

    public func didAbandon(_ context: ServerContext) {
        metrics(context).abandoned.increment()
    }
}
