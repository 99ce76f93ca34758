import NIOCore
import StrictJSON

/// Writes response frames straight into an outgoing `ByteBuffer`: every response the server sends,
/// whichever way its request was read.
///
/// `{"type":"response","id":N[,"metadata":{…}],"status":{…}[,"payload":{…}]}` — the payload of an
/// OK response is the message's own encoding (``RPCMessage/write(into:)``), written in place.
public enum ResponseFrameWriter {
    @usableFromInline static let head: StaticString = #"{"type":"response","id":"#
    @usableFromInline static let okStatusAndPayloadKey: StaticString = #","status":{"code":"OK","message":""},"payload":"#

    /// Appends one OK response frame for call `id` with `message` as its payload, and `metadata`
    /// (with `x-request-id: requestID` when given) as its metadata.
    ///
    /// The whole frame is written into memory reserved once in the buffer (one `ByteBuffer`
    /// operation per answer; see ``MessageFieldWriter``). A request id alone (the common case) is
    /// written in place, without building the metadata object.
    @inlinable
    public static func writeOK<Message: RPCMessage>(
        id: UInt64, requestID: RequestID? = nil, metadata: [String: String], message: Message, into buffer: inout ByteBuffer
    ) {
        if metadata.isEmpty {
            MessageFieldWriter.appendFrame(
                head: head, id: id, middle: nil, requestID: requestID, tail: okStatusAndPayloadKey, message: message, into: &buffer)
        } else {
            var all = metadata
            if let requestID { all["x-request-id"] = requestID.text }
            MessageFieldWriter.appendFrame(
                head: head, id: id, middle: metadataBytes(all), tail: okStatusAndPayloadKey, message: message, into: &buffer)
        }
    }

    /// Appends one response frame for call `id` that failed with `status` (not OK: no payload).
    public static func writeFailure(
        id: UInt64, requestID: RequestID? = nil, metadata: [String: String], status: RPCStatus, into buffer: inout ByteBuffer
    ) {
        var metadata = metadata
        if let requestID { metadata["x-request-id"] = requestID.text }
        var writer = JSONWriter(reservingCapacity: 128 + status.message.utf8.count)
        writer.beginObject()
        writer.key("type")
        writer.string("response")
        writer.key("id")
        writer.uint64(id)
        if !metadata.isEmpty {
            writer.key("metadata")
            writeMetadata(metadata, into: &writer)
        }
        writer.key("status")
        status.encode(into: &writer)
        writer.endObject()
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
    }

    /// `,"metadata":{…}`, the member as it goes after the id.
    @usableFromInline
    static func metadataBytes(_ metadata: [String: String]) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 64)
        writer.key("metadata")
        writeMetadata(metadata, into: &writer)
        return [UInt8(ascii: ",")] + writer.bytes
    }

    /// Metadata as a JSON object, keys sorted (the bytes do not depend on a dictionary's order).
    static func writeMetadata(_ metadata: [String: String], into writer: inout JSONWriter) {
        writer.beginObject()
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            writer.key(key)
            writer.string(value)
        }
        writer.endObject()
    }
}

/// Writes JSON text into memory reserved in advance: the caller guarantees the room.
public struct JSONByteCursor {
    /// The memory written into.
    public let memory: UnsafeMutableRawBufferPointer
    /// Where the next byte goes.
    public private(set) var offset: Int

    /// A cursor that writes into `memory` from `offset`.
    public init(memory: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        self.memory = memory
        self.offset = offset
    }

    /// Writes one byte as it is.
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
        let count = DecimalText.digitCount(value)
        precondition(offset + count <= memory.count, "JSONByteCursor overflow")
        DecimalText.write(value, into: UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + count)]))
        offset += count
    }
}
