import Benchmark
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Prometheus
import UserCore
import UserRPCServer
import UserRPCWire
import UserService
import UserV1

/// The codec and the dispatch path of GetUser. Allocation counts are exact and are the CI gate
/// (`Thresholds/`, checked by `scripts/test.sh`); instructions (where the machine exposes hardware
/// counters), wall-clock time and throughput are for reading.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.instructions, .mallocCountTotal, .wallClock, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000,
        // Counted per 1,000 calls: one more allocation per call adds 1,000 and fails the check; a
        // stray allocation or two in a run (the runtime's lazy caches) does not.
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 50])]
    )

    let user = UserCore.User(
        id: UUID(uuidString: "01a21b12-9b43-75d8-9f54-8e0fb98dfbe1")!, username: "ada_lovelace", email: "ada@example.com",
        createdAt: Date(timeIntervalSince1970: 1_795_000_000.123))
    let getUserFrame = Array(
        #"{"type":"request","id":42,"method":"user.v1.UserService/GetUser","payload":{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"}}"#.utf8)

    // Names carry no spaces: they become the file names under Thresholds/.
    Benchmark("GetUser.scanRequestFrame") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(getUserFrame.withUnsafeBytes { RequestFrameScanner.scan($0) })
        }
    }

    Benchmark("GetUser.decodeRequestFrameGeneralPath") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(getUserFrame.withUnsafeBytes { try? ClientFrame.decode($0) })
        }
    }

    // The one response writer, with the message's own encoder (what every OK answer goes through).
    Benchmark("GetUser.writeResponseFrame") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            ResponseFrameWriter.writeOK(id: 42, metadata: [:], message: UserV1.User(user), into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    // The client's side of the same call: its request frame, the envelope encoded once per group
    // and the message written in place, and the reading of its OK answer into a `User` message.
    let request = GetUserRequest(id: user.id)
    let requestEncoder = RequestFrameEncoder(method: "user.v1.UserService/GetUser", timeoutMilliseconds: 30_000, metadata: [:])
    Benchmark("GetUser.clientEncodeRequestFrame") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            requestEncoder.writeFrame(id: 42, message: request, into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    let okResponseFrame = Array(
        #"{"type":"response","id":42,"status":{"code":"OK","message":""},"payload":{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1","username":"ada_lovelace","email":"ada@example.com","created_at":"2026-11-18T11:06:40.123Z"}}"#
            .utf8)
    Benchmark("GetUser.clientScanResponseFrame") { benchmark in
        for _ in benchmark.scaledIterations {
            okResponseFrame.withUnsafeBytes { bytes in
                guard let ok = ResponseFrameScanner.scanOK(bytes) else { return }
                let payload = UnsafeRawBufferPointer(rebasing: bytes[ok.payload])
                guard let members = ResponseFrameScanner.scanFlatPayload(payload) else { return }
                blackHole(UserV1.User.decode(plain: members, in: payload, unknownFields: .ignore))
            }
        }
    }

    // The whole server path of one connection: frames in, responses out, through the real connection
    // handler on an EmbeddedChannel (no sockets). 16 calls arrive per read, as under load; with
    // metrics kept (`--metrics-port`), each call is also counted and timed into a Prometheus registry.
    // 16 calls per iteration: one more allocation per call adds 16.
    for withMetrics in [false, true] {
        Benchmark(
            withMetrics ? "GetUser.connectionHandler16CallsPerReadWithMetrics" : "GetUser.connectionHandler16CallsPerRead",
            configuration: .init(scalingFactor: .one, thresholds: [.mallocCountTotal: .init(absolute: [.p90: 4])])
        ) { benchmark in
            let store = InMemoryUserStore()
            try store.insert(user)
            let channel = EmbeddedChannel()
            var logger = Logger(label: "benchmark")
            logger.logLevel = .critical
            let service = UserServiceV1Provider(operations: UserOperations(repository: UserRepository(store: store)))
            let server = try UserRPCServer(
                configuration: UserRPCServerConfiguration(), services: [service], logger: logger, eventLoopGroup: channel.embeddedEventLoop,
                metricsFactory: withMetrics ? PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()) : nil)
            try server.serve(channel)
            var batch = ByteBuffer()
            for _ in 0..<16 { WireProtocol.writeFrame(getUserFrame, into: &batch) }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try channel.writeInbound(batch)
                while let response = try channel.readOutbound(as: ByteBuffer.self) { blackHole(response) }
            }
            benchmark.stopMeasurement()
            _ = try? channel.finish()
        }
    }
}
