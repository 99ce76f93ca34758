import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian length N, then N bytes of body.
///
/// The length is checked against `maxFrameBytes` before any body byte is buffered; a frame that is too
/// large, or empty, is an error that ends the connection. A partial frame waits for more bytes.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    /// Each frame's body, without its length prefix.
    public typealias InboundOut = ByteBuffer

    /// The largest body accepted, in bytes.
    public let maxFrameBytes: Int

    /// A decoder that accepts bodies of up to `maxFrameBytes` bytes (4 MiB by default).
    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Passes on the next whole frame body in `buffer`, if there is one; throws ``FrameError``.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try nextFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// At the end of the stream: as ``decode(context:buffer:)``, for the frames still whole in `buffer`.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Takes one complete frame body from the front of `buffer`, or returns `nil` and leaves it untouched.
    public func nextFrame(from buffer: inout ByteBuffer) throws(FrameError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw .emptyFrame }
        guard length <= maxFrameBytes else { throw .frameTooLarge(length: Int(length), limit: maxFrameBytes) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }
}

/// A framing violation; the connection cannot continue after one.
public enum FrameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A frame of length 0.
    case emptyFrame
    /// A frame whose length is above the receiver's limit.
    case frameTooLarge(length: Int, limit: Int)

    /// What was wrong, for people.
    public var description: String {
        switch self {
        case .emptyFrame: "frame length 0 is not allowed"
        case .frameTooLarge(let length, let limit): "frame length \(length) exceeds the limit of \(limit) bytes"
        }
    }
}

/// Constants of wire protocol v1.
public enum WireProtocol {
    /// Default largest frame body: 4 MiB.
    public static let defaultMaxFrameBytes = 4 * 1024 * 1024

    /// Appends one frame (length prefix, then `body`) to `buffer`.
    public static func writeFrame(_ body: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
    }
}
