import NIOCore
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

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ bytes: [UInt8], using generator: inout Generator) -> [UInt8] {
        var bytes = bytes
        let interesting: [UInt8] = [0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x2D, 0x30, 0x39, 0x65, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            guard !bytes.isEmpty else { break }
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0: bytes[index] = interesting.randomElement(using: &generator)!
            case 1: bytes.remove(at: index)
            case 2: bytes.insert(interesting.randomElement(using: &generator)!, at: index)
            case 3: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 8)], at: index)
            default: bytes = Array(bytes[..<index])
            }
        }
        return bytes
    }

    @Test("20,000 mutated envelopes are each decoded or rejected with a classification")
    func envelopes() {
        var generator = Generator(state: 2026)
        var outcomes = (frames: 0, rejected: 0, fatal: 0)
        for round in 0..<20_000 {
            let seed = Array(Self.seeds[round % Self.seeds.count].utf8)
            let mutated = Self.mutate(seed, using: &generator)
            let result = mutated.withUnsafeBytes { bytes in
                Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes) }
            }
            switch result {
            case .success: outcomes.frames += 1
            case .failure(.reject(_, let status)):
                #expect(status.code == .invalidArgument)
                outcomes.rejected += 1
            case .failure(.fatal): outcomes.fatal += 1
            }
        }
        // The mutations reach every outcome: the test exercises all three paths.
        #expect(outcomes.frames > 0)
        #expect(outcomes.rejected > 0)
        #expect(outcomes.fatal > 0)
    }

    @Test("mutated byte streams split at random points never crash the frame decoder")
    func streams() throws {
        var generator = Generator(state: 7)
        let decoder = FrameDecoder(maxFrameBytes: 256)
        for _ in 0..<5_000 {
            var frames = ByteBuffer()
            for seed in Self.seeds.shuffled(using: &generator) { WireProtocol.writeFrame(Array(seed.utf8), into: &frames) }
            var stream = Array(frames.readableBytesView)
            stream = Self.mutate(stream, using: &generator)
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
