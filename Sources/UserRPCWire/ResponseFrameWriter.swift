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

    /// The most bytes ``writeJSONString(_:)`` writes for `text`.
    public static func maxJSONStringLength(_ text: String) -> Int { JSONStringText.maxLength(utf8Count: text.utf8.count) }

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

    /// Writes `bytes` as they are (they must be valid JSON in place).
    @inline(__always) public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        precondition(offset + bytes.count <= memory.count, "JSONByteCursor overflow")
        if let base = bytes.baseAddress { (memory.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count) }
        offset += bytes.count
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

    /// Writes `text` as a quoted, escaped JSON string (``JSONStringText``, as `JSONWriter` does).
    public mutating func writeJSONString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            precondition(offset + JSONStringText.maxLength(utf8Count: utf8.count) <= memory.count, "JSONByteCursor overflow")
            offset += JSONStringText.write(utf8, to: memory.baseAddress! + offset)
        }
    }
}
