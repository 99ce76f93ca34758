import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import UserRPCWire

@Suite("Frame codec")
struct FrameDecoderTests {
    private func frame(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        WireProtocol.writeFrame(Array(text.utf8), into: &buffer)
        return buffer
    }

    @Test("decodes frames however the input is split or merged")
    func splitAndMerged() throws {
        let bodies = ["{\"a\":1}", "{}", String(repeating: "x", count: 300), "é"]
        let pairs = bodies.map { (frame($0), [ByteBuffer(string: $0)]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(maxFrameBytes: 1024) }
    }

    @Test("waits for the rest of a partial frame")
    func partialFrame() throws {
        let decoder = FrameDecoder(maxFrameBytes: 1024)
        var buffer = frame("{\"hello\":true}")
        var partial = buffer.readSlice(length: 7)!
        #expect(try decoder.nextFrame(from: &partial) == nil)
        #expect(partial.readableBytes == 7, "a partial frame is left unread")
        partial.writeBuffer(&buffer)
        let body = try #require(try decoder.nextFrame(from: &partial))
        #expect(String(buffer: body) == "{\"hello\":true}")
    }

    @Test("rejects a length over the limit as soon as the prefix arrives")
    func tooLarge() throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1025))  // no body at all
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) {
            try FrameDecoder(maxFrameBytes: 1024).nextFrame(from: &buffer)
        }
        var exact = frame(String(repeating: "y", count: 1024))
        #expect(try FrameDecoder(maxFrameBytes: 1024).nextFrame(from: &exact)?.readableBytes == 1024)
    }

    @Test("rejects a zero length")
    func zeroLength() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(throws: FrameError.emptyFrame) { try FrameDecoder().nextFrame(from: &buffer) }
    }

    @Test("an oversized prefix in a pipeline is an error, not buffered data")
    func pipelineError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 16)))
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32.max)
        #expect(throws: FrameError.self) { try channel.writeInbound(buffer) }
        _ = try? channel.finish()
    }
}
