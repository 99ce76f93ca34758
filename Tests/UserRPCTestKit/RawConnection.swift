import NIOCore
import NIOPosix
import StrictJSON
import UserRPCWire

/// A test client that speaks wire protocol v1 with no help from the client library:
/// it sends exactly the bytes a test gives and reads frames back one at a time.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    private init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) {
        self.channel = channel
        self.iterator = channel.inbound.makeAsyncIterator()
    }

    deinit {
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }

    public static func connect(port: Int, maxFrameBytes: Int = 64 * 1024 * 1024) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawConnection(channel: channel)
    }

    /// Sends raw bytes, as they are.
    public func sendBytes(_ bytes: [UInt8]) async throws {
        try await channel.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one frame holding `json`.
    public func send(_ json: String) async throws {
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(Array(json.utf8), into: &buffer)
        try await channel.outbound.write(buffer)
    }

    /// Sends several frames in one write.
    public func sendBatch(_ frames: [String]) async throws {
        var buffer = ByteBuffer()
        for json in frames { WireProtocol.writeFrame(Array(json.utf8), into: &buffer) }
        try await channel.outbound.write(buffer)
    }

    /// The next frame as a JSON object, or `nil` when the server closed the connection.
    public func next(timeout seconds: Double = 10) async throws -> JSONObject? {
        let box = IteratorBox(iterator)
        let body: ByteBuffer? = try await withTimeout(seconds: seconds) { try await box.next() }
        iterator = box.iterator
        guard let body else { return nil }
        let value = try JSONParser().parse(Array(body.readableBytesView))
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
        do {
            return try await next(timeout: seconds) == nil
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .eof {
            return true
        } catch let error as IOError where error.errnoCode == 104 {  // connection reset
            return true
        }
    }

    public func close() async {
        channel.outbound.finish()
        try? await channel.channel.close()
    }
}

public enum RawConnectionError: Error {
    case notAnObject
    case closed
}

/// Moves the iterator into a sendable box for the duration of one `next()`.
private final class IteratorBox: @unchecked Sendable {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }
    public func next() async throws -> ByteBuffer? { try await iterator.next() }
}

extension JSONObject {
    /// `status.code` of a response frame.
    public var statusCode: String? { self["status"]?.objectValue?["code"]?.stringValue }
    public var frameID: UInt64? { self["id"]?.uint64Value }
    public var payload: JSONObject? { self["payload"]?.objectValue }
}
