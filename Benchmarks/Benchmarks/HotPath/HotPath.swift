import Benchmark
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import UserCore
import UserRPCServer
import UserRPCWire

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

    let user = User(
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

    Benchmark("GetUser.writeResponseFrame") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            ResponseFrameWriter.writeOKResponse(id: 42, payloadCapacity: 256, into: &buffer) { cursor in
                cursor.write(#"{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1","username":"#)
                cursor.writeJSONString(user.username)
                cursor.write(#","email":"#)
                cursor.writeJSONString(user.email)
                cursor.write(#","created_at":"2026-11-18T11:06:40.123Z"}"#)
            }
            blackHole(buffer.readableBytes)
        }
    }

    // The client's side of the same call: its request frame, encoded once per group around the id and
    // payload, and the scan of its OK answer down to the User's four strings (the client then makes
    // them Strings).
    let getUserPayload = Array(#"{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"}"#.utf8)
    let requestEncoder = RequestFrameEncoder(method: "user.v1.UserService/GetUser", timeoutMilliseconds: 30_000, metadata: [:])
    Benchmark("GetUser.clientEncodeRequestFrame") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            getUserPayload.withUnsafeBytes { requestEncoder.writeFrame(id: 42, payload: $0, into: &buffer) }
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
                blackHole(
                    ResponseFrameScanner.scanCompactStrings(
                        UnsafeRawBufferPointer(rebasing: bytes[ok.payload]), #"{"id":"#, #","username":"#, #","email":"#,
                        #","created_at":"#)?.3)
            }
        }
    }

    // The whole server path of one connection: frames in, responses out, through the real connection
    // handler on an EmbeddedChannel (no sockets). 16 calls arrive per read, as under load.
    // 16 calls per iteration: one more allocation per call adds 16.
    Benchmark(
        "GetUser.connectionHandler16CallsPerRead",
        configuration: .init(scalingFactor: .one, thresholds: [.mallocCountTotal: .init(absolute: [.p90: 4])])
    ) { benchmark in
        let store = InMemoryUserStore()
        try store.insertNow(user)
        let channel = EmbeddedChannel()
        var logger = Logger(label: "benchmark")
        logger.logLevel = .critical
        let server = UserRPCServer(
            configuration: UserRPCServerConfiguration(), repository: UserRepository(store: store), logger: logger,
            eventLoopGroup: channel.embeddedEventLoop)
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
