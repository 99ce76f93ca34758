import NIOCore
import StrictJSON

/// Writes the request frames of one method, deadline and metadata: the envelope around each call's id
/// and payload is encoded once, so a frame costs its id and its payload. The client's encoder.
///
/// A body is `{"type":"request","id":N,"method":…[,"timeout_ms":T][,"window":W][,"metadata":{…}],"payload":{…}}`,
/// metadata keys sorted; ``RequestEnvelope/encode(id:method:timeoutMilliseconds:metadata:payload:into:)``
/// writes the same bytes through this type.
public struct RequestFrameEncoder: Sendable {
    @usableFromInline static let head: StaticString = #"{"type":"request","id":"#
    /// `,"method":…,"payload":` — everything between the id and the payload.
    @usableFromInline let afterID: [UInt8]

    /// An encoder of calls to `method` (`package.Service/Method`) with this `timeout_ms` and metadata
    /// (and, for a streaming method, this initial `window`).
    public init(method: String, timeoutMilliseconds: UInt64?, metadata: [String: String], window: UInt64? = nil) {
        var writer = JSONWriter(reservingCapacity: 64 + method.utf8.count)
        writer.beginObject()
        writer.key("method")
        writer.string(method)
        if let timeoutMilliseconds {
            writer.key("timeout_ms")
            writer.uint64(timeoutMilliseconds)
        }
        if let window {
            writer.key("window")
            writer.uint64(window)
        }
        if !metadata.isEmpty {
            writer.key("metadata")
            writer.beginObject()
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                writer.string(value)
            }
            writer.endObject()
        }
        writer.key("payload")
        // The writer's opening brace becomes the comma after the id.
        var bytes = writer.bytes
        bytes[0] = UInt8(ascii: ",")
        afterID = bytes
    }

    /// Appends one frame — length prefix and body — for call `id` with `payload`, a JSON object's text.
    public func writeFrame(id: UInt64, payload: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        let head = Self.head
        let length = head.utf8CodeUnitCount + DecimalText.digitCount(id) + afterID.count + payload.count + 1
        buffer.writeInteger(UInt32(length))
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { memory in
            var cursor = JSONByteCursor(memory: memory)
            cursor.write(head)
            cursor.writeDecimal(id)
            afterID.withUnsafeBytes { cursor.write($0) }
            cursor.write(payload)
            cursor.writeByte(UInt8(ascii: "}"))
            return cursor.offset
        }
    }

    /// Appends one frame for call `id` with `message` as its payload, encoded in place: the whole
    /// frame written into memory reserved once (see ``MessageFieldWriter``).
    @inlinable
    public func writeFrame<Message: RPCMessage>(id: UInt64, message: Message, into buffer: inout ByteBuffer) {
        MessageFieldWriter.appendFrame(head: Self.head, id: id, middle: afterID, tail: nil, message: message, into: &buffer)
    }

    /// The body of the frame for call `id`, as bytes.
    public func body(id: UInt64, payload: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        payload.withUnsafeBytes { writeFrame(id: id, payload: $0, into: &buffer) }
        buffer.moveReaderIndex(forwardBy: 4)
        return Array(buffer.readableBytesView)
    }
}
