import NIOCore
import StrictJSON

/// Writes OK response frames straight into an outgoing `ByteBuffer`: the hot path's encoder.
///
/// The bytes are exactly those of ``ServerFrame/encodeResponse(id:status:payload:into:)`` for an OK
/// status, so a client cannot tell which path answered. The whole frame is written in one pass through
/// raw memory reserved up front.
public enum ResponseFrameWriter {
    private static let head: StaticString = #"{"type":"response","id":"#
    private static let statusAndPayloadKey: StaticString = #","status":{"code":"OK","message":""},"payload":"#
    /// The length prefix, the envelope around the payload, and the longest id.
    private static let envelopeCapacity = 4 + head.utf8CodeUnitCount + 20 + statusAndPayloadKey.utf8CodeUnitCount + 1

    /// Appends one OK response frame for call `id`; `writePayload` writes the payload object and must
    /// write at most `payloadCapacity` bytes.
    public static func writeOKResponse(
        id: UInt64, payloadCapacity: Int, into buffer: inout ByteBuffer, writePayload: (inout JSONByteCursor) -> Void
    ) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: envelopeCapacity + payloadCapacity) { memory in
            var cursor = JSONByteCursor(memory: memory, offset: 4)
            cursor.write(head)
            cursor.writeDecimal(id)
            cursor.write(statusAndPayloadKey)
            writePayload(&cursor)
            cursor.writeByte(UInt8(ascii: "}"))
            let frameLength = cursor.offset
            memory.storeBytes(of: UInt32(frameLength - 4).bigEndian, toByteOffset: 0, as: UInt32.self)
            return frameLength
        }
    }
}

/// Writes JSON text into memory reserved in advance: the caller guarantees the room.
public struct JSONByteCursor {
    public let memory: UnsafeMutableRawBufferPointer
    /// Where the next byte goes.
    public private(set) var offset: Int

    public init(memory: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        self.memory = memory
        self.offset = offset
    }

    /// The most bytes ``writeJSONString(_:)`` writes for `text`: every byte escaped as `\u00XX`, and quotes.
    public static func maxJSONStringLength(_ text: String) -> Int { 6 * text.utf8.count + 2 }

    @inline(__always) public mutating func writeByte(_ byte: UInt8) {
        memory[offset] = byte
        offset += 1
    }

    /// Writes `text` as it is (it must be valid JSON in place).
    @inline(__always) public mutating func write(_ text: StaticString) {
        let count = text.utf8CodeUnitCount
        precondition(offset + count <= memory.count, "JSONByteCursor overflow")
        (memory.baseAddress! + offset).copyMemory(from: text.utf8Start, byteCount: count)
        offset += count
    }

    /// Writes `value` in decimal.
    public mutating func writeDecimal(_ value: UInt64) {
        write(count: DecimalText.digitCount(value)) { DecimalText.write(value, into: $0) }
    }

    /// Lets `body` fill the next `count` bytes.
    public mutating func write(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(offset + count <= memory.count, "JSONByteCursor overflow")
        body(UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + count)]))
        offset += count
    }

    /// Writes `text` as a JSON string, escaped exactly as `StrictJSON.JSONWriter` escapes it: `"` and `\`
    /// with a backslash, newline, carriage return and tab by their short forms, other control characters
    /// as `\u00XX`, everything else as it is.
    public mutating func writeJSONString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            precondition(offset + 6 * utf8.count + 2 <= memory.count, "JSONByteCursor overflow")
            let out = memory.baseAddress!
            out.storeBytes(of: UInt8(ascii: "\""), toByteOffset: offset, as: UInt8.self)
            var o = offset + 1
            for byte in utf8 {
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    out.storeBytes(of: byte, toByteOffset: o, as: UInt8.self)
                    o += 1
                    continue
                }
                let short: UInt8? =
                    switch byte {
                    case UInt8(ascii: "\""): UInt8(ascii: "\"")
                    case UInt8(ascii: "\\"): UInt8(ascii: "\\")
                    case 0x0A: UInt8(ascii: "n")
                    case 0x0D: UInt8(ascii: "r")
                    case 0x09: UInt8(ascii: "t")
                    default: nil
                    }
                out.storeBytes(of: UInt8(ascii: "\\"), toByteOffset: o, as: UInt8.self)
                if let short {
                    out.storeBytes(of: short, toByteOffset: o + 1, as: UInt8.self)
                    o += 2
                } else {
                    let hex: StaticString = "0123456789abcdef"
                    out.storeBytes(of: UInt8(ascii: "u"), toByteOffset: o + 1, as: UInt8.self)
                    out.storeBytes(of: UInt8(ascii: "0"), toByteOffset: o + 2, as: UInt8.self)
                    out.storeBytes(of: UInt8(ascii: "0"), toByteOffset: o + 3, as: UInt8.self)
                    out.storeBytes(of: hex.utf8Start[Int(byte >> 4)], toByteOffset: o + 4, as: UInt8.self)
                    out.storeBytes(of: hex.utf8Start[Int(byte & 0x0F)], toByteOffset: o + 5, as: UInt8.self)
                    o += 6
                }
            }
            out.storeBytes(of: UInt8(ascii: "\""), toByteOffset: o, as: UInt8.self)
            offset = o + 1
        }
    }
}
