/// Repeatable randomness for the generated-input tests (differential and mutation tests): a
/// SplitMix64 generator, so a failing input can be found again from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte-level mutations of a valid input: bytes replaced by, or inserted as, bytes that matter to
/// JSON and UTF-8, bytes removed, runs duplicated, or the tail cut off; one to four of them.
public enum ByteMutation {
    public static let interestingBytes: [UInt8] = [
        0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x2D, 0x30, 0x39, 0x65, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF,
    ]

    public static func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            guard !bytes.isEmpty else { break }
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0: bytes[index] = interestingBytes.randomElement(using: &generator)!
            case 1: bytes.remove(at: index)
            case 2: bytes.insert(interestingBytes.randomElement(using: &generator)!, at: index)
            case 3: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 8)], at: index)
            default: bytes = Array(bytes[..<index])
            }
        }
        return bytes
    }
}
