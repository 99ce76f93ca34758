import Metrics
import MetricsTestKit
import NIOCore
import Testing
import UserRPCServer

/// What the metrics count, on an `EmbeddedChannel` with a manual clock (latency is exact), into
/// swift-metrics' test factory.
@Suite("Metrics")
struct MetricsInterceptorTests {
    static let methods = ["test.v1.Test/Echo", "test.v1.Test/Hold", "test.v1.Test/Meta"]

    static func request(_ id: UInt64, _ method: String, text: String = "t", extra: String = "") -> String {
        #"{"type":"request","id":\#(id),"method":"test.v1.Test/\#(method)"\#(extra),"payload":{"text":"\#(text)"}}"#
    }

    /// A connection whose calls are measured, on its event loop's manual clock.
    static func measured(_ metrics: TestMetrics) throws -> ServedChannel {
        try ServedChannel(metricsFactory: metrics)
    }

    static func calls(_ metrics: TestMetrics, _ method: String, _ code: String) throws -> Int64 {
        try metrics.expectCounter("user_rpc_calls_total", [("method", method), ("code", code)]).totalValue
    }

    @Test("calls by method and code; a made-up method is counted as unknown; latency from the frame's arrival to the answer")
    func callsAndLatency() throws {
        let metrics = TestMetrics()
        let connection = try Self.measured(metrics)
        try connection.send(Self.request(1, "Echo"))
        try connection.send(Self.request(2, "Echo"))
        try connection.send(Self.request(3, "MadeUp"))
        try connection.send(Self.request(4, "Hold", text: "slow", extra: #","timeout_ms":1500"#))
        #expect(try Self.calls(metrics, "test.v1.Test/Echo", "OK") == 2)
        #expect(try Self.calls(metrics, "unknown", "UNIMPLEMENTED") == 1)
        #expect(metrics.counters(label: "user_rpc_calls_total").allSatisfy { !$0.dimensions.contains { $0.1.contains("MadeUp") } })
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 1, "the held call")

        connection.advanceTime(by: .milliseconds(1500))
        #expect(try connection.readFrames().last?.statusCode == "DEADLINE_EXCEEDED")
        #expect(try Self.calls(metrics, "test.v1.Test/Hold", "DEADLINE_EXCEEDED") == 1)
        let holdLatency = try metrics.expectTimer("user_rpc_call_duration_seconds", [("method", "test.v1.Test/Hold")])
        #expect(holdLatency.values == [1_500_000_000], "exactly the deadline, on the manual clock")
        #expect(try metrics.expectTimer("user_rpc_call_duration_seconds", [("method", "test.v1.Test/Echo")]).values == [0, 0])
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 0)
    }

    @Test("a call in flight when the connection closes is abandoned, not left in flight")
    func abandoned() throws {
        let metrics = TestMetrics()
        let connection = try Self.measured(metrics)
        try connection.send(Self.request(1, "Hold", text: "left"))
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 1)
        try connection.channel.close().wait()
        connection.channel.embeddedEventLoop.run()
        #expect(try metrics.expectCounter("user_rpc_calls_abandoned_total", [("method", "test.v1.Test/Hold")]).totalValue == 1)
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 0)
        #expect(try metrics.expectMeter("user_rpc_connections_open").lastValue == 0)
    }

    @Test("a call refused for crossing the goaway is counted, and never leaves calls in flight below zero")
    func refusedAfterGoaway() throws {
        let metrics = TestMetrics()
        let connection = try Self.measured(metrics)
        try connection.send(Self.request(1, "Hold", text: "running"))
        connection.quiesce()
        try connection.send(Self.request(2, "Echo"))
        #expect(try Self.calls(metrics, "test.v1.Test/Echo", "UNAVAILABLE") == 1)
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 1, "only the held call")
        connection.service.holds.release("running")
        connection.channel.embeddedEventLoop.run()
        #expect(try Self.calls(metrics, "test.v1.Test/Hold", "OK") == 1)
        #expect(try metrics.expectMeter("user_rpc_calls_in_flight").lastValue == 0)
    }

    @Test("rejected frames by reason, and connections")
    func framesAndConnections() throws {
        let metrics = TestMetrics()
        let connection = try Self.measured(metrics)
        #expect(try metrics.expectCounter("user_rpc_connections_total").totalValue == 1)
        #expect(try metrics.expectMeter("user_rpc_connections_open").lastValue == 1)
        try connection.send(#"{"type":"request","id":1,"method":"test.v1.Test/Echo","payload":{"text":"t"},"extra":1}"#)
        try connection.send(#"{"type":"cancel","id":1,"extra":1}"#)
        try connection.send("[1,2")
        func rejected(_ reason: String) throws -> Int64 {
            try metrics.expectCounter("user_rpc_frames_rejected_total", [("reason", reason)]).totalValue
        }
        #expect(try rejected("invalid_envelope") == 1)
        #expect(try rejected("malformed_control") == 1)
        #expect(try rejected("unreadable") == 1)
        #expect(try rejected("too_large") == 0)
        #expect(!connection.isActive, "an unreadable frame closes the connection")
        connection.channel.embeddedEventLoop.run()
        #expect(try metrics.expectMeter("user_rpc_connections_open").lastValue == 0)
    }
}
