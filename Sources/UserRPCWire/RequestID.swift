import StrictJSON

/// A call's request id as the server writes it into a response's `x-request-id` metadata: the
/// client's own, or one generated from a per-process prefix and a sequence number
/// (`k3x9q2-1z`: six base-36 digits, `-`, one to eight base-36 digits).
///
/// A generated id is written into an OK response without metadata of its own (the common answer)
/// digit by digit; its text is made only when asked for (a log line, a failed answer, an answer
/// with other metadata).
public struct RequestID: Sendable, Hashable {
    @usableFromInline
    enum Storage: Sendable, Hashable {
        case given(String)
        case generated(prefix: UInt64, sequence: UInt64)
    }

    @usableFromInline let storage: Storage

    /// The largest generated prefix plus one (36^6).
    public static let prefixLimit: UInt64 = 2_176_782_336
    /// Generated sequence numbers wrap here (36^8).
    public static let sequenceLimit: UInt64 = 2_821_109_907_456

    /// An id given by the client (written as a JSON string, escaped if it must be).
    public init(given text: String) {
        storage = .given(text)
    }

    /// A generated id: `prefix` (below ``prefixLimit``) in six base-36 digits, `-`, and `sequence`
    /// (modulo ``sequenceLimit``) in as few base-36 digits as it needs.
    public init(prefix: UInt64, sequence: UInt64) {
        storage = .generated(prefix: prefix % Self.prefixLimit, sequence: sequence % Self.sequenceLimit)
    }

    /// The id's text.
    public var text: String {
        switch storage {
        case .given(let text):
            return text
        case .generated(let prefix, let sequence):
            return String(unsafeUninitializedCapacity: 15) { buffer in
                Self.writeGenerated(prefix: prefix, sequence: sequence, to: UnsafeMutableRawPointer(buffer.baseAddress!))
            }
        }
    }

    /// The most bytes ``write(quotedTo:)`` writes.
    @usableFromInline
    var maxQuotedLength: Int {
        switch storage {
        case .given(let text): return JSONStringText.maxLength(utf8Count: text.utf8.count)
        case .generated: return 17
        }
    }

    /// Writes the id as a JSON string (with its quotes); returns the bytes written.
    @usableFromInline
    func write(quotedTo memory: UnsafeMutableRawPointer) -> Int {
        switch storage {
        case .given(let text):
            var text = text
            return text.withUTF8 { JSONStringText.write($0, to: memory) }
        case .generated(let prefix, let sequence):
            memory.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            let count = Self.writeGenerated(prefix: prefix, sequence: sequence, to: memory + 1)
            (memory + 1 + count).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            return count + 2
        }
    }

    /// Writes `prefix-sequence` (at most 15 bytes); returns the bytes written.
    private static func writeGenerated(prefix: UInt64, sequence: UInt64, to memory: UnsafeMutableRawPointer) -> Int {
        var value = prefix
        for index in (0..<6).reversed() {
            (memory + index).storeBytes(of: digit(value % 36), as: UInt8.self)
            value /= 36
        }
        (memory + 6).storeBytes(of: UInt8(ascii: "-"), as: UInt8.self)
        var width = 1
        var power: UInt64 = 36
        while width < 8, sequence >= power {
            width += 1
            power &*= 36
        }
        value = sequence
        for index in (7..<7 + width).reversed() {
            (memory + index).storeBytes(of: digit(value % 36), as: UInt8.self)
            value /= 36
        }
        return 7 + width
    }

    @inline(__always)
    private static func digit(_ value: UInt64) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value) : UInt8(ascii: "a") &+ UInt8(truncatingIfNeeded: value &- 10)
    }
}
