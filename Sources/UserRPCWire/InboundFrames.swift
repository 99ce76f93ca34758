import NIOCore

/// The bytes a connection has received that are not yet whole frames: reads are appended, whole
/// frame bodies taken from the front. Used by both ends' connection handlers, which do their own
/// framing so that they can see a partly received frame (the server's read timeout) and stop taking
/// frames while their peer does not read (backpressure).
public struct InboundFrames {
    private let decoder: FrameDecoder
    private var pending: ByteBuffer?

    /// No bytes yet; frames longer than `maxFrameBytes` are refused.
    public init(maxFrameBytes: Int) {
        self.decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
    }

    /// Adds the bytes of a read.
    public mutating func append(_ bytes: inout ByteBuffer) {
        if pending == nil {
            pending = bytes
        } else {
            // In place: `pending` is the buffer's only owner.
            pending!.writeBuffer(&bytes)
        }
    }

    /// The next whole frame's body, or `nil` until more bytes arrive. Throws on a length the
    /// protocol forbids (the connection must end).
    public mutating func next() throws(FrameError) -> ByteBuffer? {
        guard pending != nil else { return nil }
        let frame = try decoder.nextFrame(from: &pending!)
        if pending!.readableBytes == 0 { pending = nil }
        return frame
    }

    /// Bytes received of a frame not yet whole (or of frames not yet taken).
    public var bufferedBytes: Int { pending?.readableBytes ?? 0 }

    /// Forgets what was received (the peer closed its side; a partial frame will never complete).
    public mutating func removeAll() {
        pending = nil
    }
}
