import Foundation
import StrictJSON

/// The end-of-run summary, for people (`text`) or machines (`json`).
struct BenchReport {
    let method: String
    let address: String
    let connections: Int
    let concurrency: Int
    let rate: Double?
    let result: LoadResult

    private static let percentiles: [(label: String, value: Double)] = [
        ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9),
    ]

    private var seconds: Double { RunClock.seconds(result.elapsed) }
    private var throughput: Double { Double(result.calls) / max(seconds, 1e-9) }
    private var cpuMicrosecondsPerCall: Double { result.calls == 0 ? 0 : result.cpuSeconds * 1e6 / Double(result.calls) }

    private func latencyMicroseconds(_ percentile: Double) -> Double {
        Double(result.histogram.valueAtPercentile(percentile)) / 1000
    }

    private var maxMicroseconds: Double { Double(result.histogram.max) / 1000 }

    var text: String {
        let mode = rate.map { String(format: "open loop at %.0f calls/s", $0) } ?? "closed loop"
        var lines: [String] = []
        lines.append("user-rpc bench \(method) → \(address): \(connections) connection(s), concurrency \(concurrency), \(mode)")
        lines.append(String(format: "calls       %d in %.2f s = %.0f calls/s", result.calls, seconds, throughput))
        let latencies = Self.percentiles.map { String(format: "%@ %.1f µs", $0.label, latencyMicroseconds($0.value)) }
        lines.append("latency     " + latencies.joined(separator: "  ") + String(format: "  max %.1f µs", maxMicroseconds))
        let statuses = result.statusCounts.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
        lines.append("status      " + (statuses.isEmpty ? "none" : statuses.joined(separator: "  ")))
        lines.append(String(format: "bench cpu   %.2f µs per call (%.2f s of CPU in this process)", cpuMicrosecondsPerCall, result.cpuSeconds))
        return lines.joined(separator: "\n")
    }

    var json: String {
        var latency = JSONObject()
        for percentile in Self.percentiles {
            latency[percentile.label] = .number(String(format: "%.1f", latencyMicroseconds(percentile.value)))
        }
        latency["max"] = .number(String(format: "%.1f", maxMicroseconds))
        var statuses = JSONObject()
        for (code, count) in result.statusCounts.sorted(by: { $0.key < $1.key }) { statuses[code] = .number(String(count)) }
        var object = JSONObject()
        object["method"] = .string(method)
        object["address"] = .string(address)
        object["connections"] = .number(String(connections))
        object["concurrency"] = .number(String(concurrency))
        if let rate { object["rate"] = .number(String(format: "%.0f", rate)) }
        object["calls"] = .number(String(result.calls))
        object["duration_s"] = .number(String(format: "%.3f", seconds))
        object["throughput_per_s"] = .number(String(format: "%.1f", throughput))
        object["latency_us"] = .object(latency)
        object["status"] = .object(statuses)
        object["bench_cpu_us_per_call"] = .number(String(format: "%.3f", cpuMicrosecondsPerCall))
        return JSONValue.object(object).prettyText()
    }
}
