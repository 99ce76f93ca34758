import NIOCore
import NIOPosix
import StrictJSON
import UserRPCWire

/// A test client that speaks wire protocol v1 with no help from the client library:
/// it sends exactly the bytes a test gives and reads frames back one at a time.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    private let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator

    private init(channel: any Channel, frames: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.iterator = frames.makeAsyncIterator()
    }

    deinit {
        channel.close(promise: nil)
    }

    /// - Parameter readsResponses: `false` makes a client that never reads from its socket.
    public static func connect(port: Int, maxFrameBytes: Int = 64 * 1024 * 1024, readsResponses: Bool = true) async throws -> RawConnection {
        let (frames, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: readsResponses)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(FrameCollector(continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, frames: frames)
    }

    /// Sends raw bytes, as they are.
    public func sendBytes(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends one frame holding `json`.
    public func send(_ json: String) async throws {
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(Array(json.utf8), into: &buffer)
        try await channel.writeAndFlush(buffer)
    }

    /// Sends several frames in one write.
    public func sendBatch(_ frames: [String]) async throws {
        var buffer = ByteBuffer()
        for json in frames { WireProtocol.writeFrame(Array(json.utf8), into: &buffer) }
        try await channel.writeAndFlush(buffer)
    }

    /// The next frame's body as the server sent it, or `nil` when the server closed the connection.
    public func nextBody(timeout seconds: Double = 10) async throws -> [UInt8]? {
        let box = IteratorBox(iterator)
        let body: ByteBuffer? = try await withTimeout(seconds: seconds) { await box.next() }
        iterator = box.iterator
        return body.map { Array($0.readableBytesView) }
    }

    /// The next frame as a JSON object, or `nil` when the server closed the connection.
    public func next(timeout seconds: Double = 10) async throws -> JSONObject? {
        guard let body = try await nextBody(timeout: seconds) else { return nil }
        let value = try JSONParser().parse(body)
        guard case .object(let object) = value else { throw RawConnectionError.notAnObject }
        return object
    }

    /// The next frame, which must exist.
    public func expectFrame(timeout seconds: Double = 10) async throws -> JSONObject {
        guard let frame = try await next(timeout: seconds) else { throw RawConnectionError.closed }
        return frame
    }

    /// Whether the server closes the connection (reads until EOF, failing on any frame).
    public func expectClosed(timeout seconds: Double = 10) async throws -> Bool {
        try await next(timeout: seconds) == nil
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Hands each frame body to an `AsyncStream`; the stream ends when the connection does.
private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let continuation: AsyncStream<ByteBuffer>.Continuation

    init(_ continuation: AsyncStream<ByteBuffer>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Connection reset and the like: the test sees the end of the stream.
        continuation.finish()
        context.close(promise: nil)
    }
}

public enum RawConnectionError: Error {
    case notAnObject
    case closed
}

/// Moves the iterator into a sendable box for the duration of one `next()`.
private final class IteratorBox: @unchecked Sendable {
    var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    init(_ iterator: AsyncStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }
    func next() async -> ByteBuffer? { await iterator.next() }
}

extension JSONObject {
    /// `status.code` of a response frame.
    public var statusCode: String? { self["status"]?.objectValue?["code"]?.stringValue }
    public var frameID: UInt64? { self["id"]?.uint64Value }
    public var payload: JSONObject? { self["payload"]?.objectValue }
}

/// `body` with its 4-byte length prefix, as raw bytes (for tests that send hand-made frames).
public func framed(_ body: [UInt8]) -> [UInt8] {
    var buffer = ByteBuffer()
    WireProtocol.writeFrame(body, into: &buffer)
    return Array(buffer.readableBytesView)
}
