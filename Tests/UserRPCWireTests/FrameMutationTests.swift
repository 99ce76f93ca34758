import NIOCore
import SeededMutation
import StrictJSON
import Testing
import UserRPCWire

/// Thousands of frames made by mutating valid ones: the decoder and the envelope parser must classify
/// every one (a frame, an answerable rejection, or a reason to close) and never crash or hang.
@Suite("Generated hostile frames")
struct FrameMutationTests {
    static let seeds: [String] = [
        #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","timeout_ms":50,"metadata":{"a":"b"},"payload":{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"}}"#,
        #"{"type":"request","id":18446744073709551615,"method":"user.v1.UserService/SearchUsers","payload":{"username":"a","limit":5}}"#,
        #"{"type":"cancel","id":7}"#,
        #"{"type":"ping","id":0}"#,
    ]

    @Test("20,000 mutated envelopes are each decoded or rejected with a classification")
    func envelopes() {
        var generator = SeededGenerator(seed: 2026)
        var outcomes = (frames: 0, rejected: 0, fatal: 0, ignored: 0)
        for round in 0..<20_000 {
            let seed = Array(Self.seeds[round % Self.seeds.count].utf8)
            let mutated = ByteMutation.mutate(seed, using: &generator)
            let result = mutated.withUnsafeBytes { bytes in
                Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes) }
            }
            switch result {
            case .success: outcomes.frames += 1
            case .failure(.reject(_, let status)):
                #expect(status.code == .invalidArgument)
                outcomes.rejected += 1
            case .failure(.fatal): outcomes.fatal += 1
            case .failure(.ignore): outcomes.ignored += 1
            }
        }
        // The mutations reach every outcome: the test exercises all three paths.
        #expect(outcomes.frames > 0)
        #expect(outcomes.rejected > 0)
        #expect(outcomes.fatal > 0)
    }

    @Test("mutated byte streams split at random points never crash the frame decoder")
    func streams() throws {
        var generator = SeededGenerator(seed: 7)
        let decoder = FrameDecoder(maxFrameBytes: 256)
        for _ in 0..<5_000 {
            var frames = ByteBuffer()
            for seed in Self.seeds.shuffled(using: &generator) { WireProtocol.writeFrame(Array(seed.utf8), into: &frames) }
            var stream = Array(frames.readableBytesView)
            stream = ByteMutation.mutate(stream, using: &generator)
            var buffer = ByteBuffer()
            var offset = 0
            decoding: while offset < stream.count {
                let chunk = min(stream.count - offset, Int.random(in: 1...64, using: &generator))
                buffer.writeBytes(stream[offset..<offset + chunk])
                offset += chunk
                do {
                    while let frame = try decoder.nextFrame(from: &buffer) {
                        #expect(frame.readableBytes >= 1 && frame.readableBytes <= 256)
                    }
                } catch {
                    break decoding  // a framing error ends the connection
                }
            }
        }
    }
}
