import Logging
import Metrics
import NIOCore
import NIOEmbedded
import StrictJSON
import UserRPCServer
import UserRPCWire

/// One server connection on an `EmbeddedChannel`: the real connection handler, no socket, and a
/// manual clock (`advanceTime(by:)` runs the timers that fall due).
final class ServedChannel {
    let channel = EmbeddedChannel()
    let server: UserRPCServer
    let service = TestService()
    private var received = ByteBuffer()

    init(
        interceptors: [any ServerInterceptor] = [], metricsFactory: (any MetricsFactory)? = nil,
        configure: (inout UserRPCServerConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = UserRPCServerConfiguration()
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = try UserRPCServer(
            configuration: configuration, services: [service], interceptors: interceptors, logger: logger,
            eventLoopGroup: channel.embeddedEventLoop, metricsFactory: metricsFactory)
        try server.serve(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    var isActive: Bool { channel.isActive }

    func writeInbound(_ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    func send(_ json: String) throws {
        try writeInbound(framed(json))
    }

    func advanceTime(by amount: TimeAmount) {
        channel.embeddedEventLoop.advanceTime(by: amount)
    }

    /// The server begins a graceful shutdown (what `UserRPCServer.beginGracefulShutdown` sends each connection).
    func quiesce() {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }

    /// The client stops (or resumes) reading its responses: the channel's writability changes.
    func setWritable(_ writable: Bool) {
        channel.isWritable = writable
        channel.pipeline.fireChannelWritabilityChanged()
    }

    /// Every whole frame the server has written so far, parsed.
    func readFrames() throws -> [JSONObject] {
        var frames: [JSONObject] = []
        while let frame = try readFrame() { frames.append(frame) }
        return frames
    }

    /// The next frame the server wrote, parsed; `nil` when it has written no whole frame.
    func readFrame() throws -> JSONObject? {
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) {
            var chunk = chunk
            received.writeBuffer(&chunk)
        }
        guard let length = received.getInteger(at: received.readerIndex, as: UInt32.self),
            received.readableBytes >= 4 + Int(length)
        else { return nil }
        received.moveReaderIndex(forwardBy: 4)
        let body = received.readBytes(length: Int(length))!
        return try JSONParser().parse(body).objectValue
    }
}

/// A frame: the 4-byte length, then the body.
func framed(_ json: String) -> [UInt8] {
    let body = Array(json.utf8)
    let length = UInt32(body.count)
    return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
}
