import NIOCore
import StrictJSON

/// A message of a service schema (`Schemas/<package>.json`): it reads its fields from, and writes
/// them to, a JSON object.
///
/// Each message is described once — ``init(fields:)`` and ``write(fields:)`` — and that one
/// description serves every path: the server's strict reading of requests (unknown fields refused),
/// a client's tolerant reading of responses (unknown fields skipped, so a newer server may add
/// optional fields), the server's fast reading of plain request bytes, and the one encoder.
public protocol RPCMessage: Sendable {
    /// The message's name in its schema's `messages` (`User`); the server checks each method's
    /// request and response types against the schema by it.
    static var messageName: String { get }
    /// Reads the message's fields. Problems are recorded in `fields`, not thrown: see
    /// ``decode(json:unknownFields:)`` and ``decode(plain:in:unknownFields:)``.
    init(fields: inout some MessageFieldReader)
    /// Writes the message's fields: one `field` call of ``MessageFieldWriter`` per field, in schema order.
    func write(fields: inout MessageFieldWriter)
}

extension RPCMessage {
    /// Reads the message from a JSON object; throws every violation found.
    public static func decode(json object: JSONObject, unknownFields: UnknownFieldPolicy) throws(MessageDecodingError) -> Self {
        var reader = JSONFieldReader(object, unknownFields: unknownFields)
        let message = Self(fields: &reader)
        let violations = reader.finishedViolations()
        guard violations.isEmpty else { throw MessageDecodingError(violations) }
        return message
    }

    /// Reads the message from a scanned plain payload, or returns `nil` when it cannot be read that
    /// way (the JSON path then decides, with the exact error). The value, when there is one, is the
    /// one ``decode(json:unknownFields:)`` reads from the same bytes.
    @inlinable
    public static func decode(plain payload: ScannedPayload, in bytes: UnsafeRawBufferPointer, unknownFields: UnknownFieldPolicy) -> Self? {
        withUnsafePointer(to: payload) { decode(plain: $0, in: bytes, unknownFields: unknownFields) }
    }

    /// The same, from scanned members lent by pointer (the server's hot path: no copy of them).
    @inlinable
    public static func decode(plain payload: UnsafePointer<ScannedPayload>, in bytes: UnsafeRawBufferPointer, unknownFields: UnknownFieldPolicy)
        -> Self?
    {
        var reader = PlainFieldReader(payload, in: bytes)
        let message = Self(fields: &reader)
        return reader.accepts(unknownFields: unknownFields) ? message : nil
    }

    /// Appends the message's JSON object to `buffer`: measured first, then written in one piece.
    @inlinable
    public func write(into buffer: inout ByteBuffer) {
        var measure = MessageFieldWriter(measuring: ())
        measure.writeMessage(self)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: measure.length) { memory in
            var writer = MessageFieldWriter(writingTo: memory.baseAddress!)
            writer.writeMessage(self)
            return writer.length
        }
    }

    /// The message as compact JSON text.
    public var jsonBytes: [UInt8] {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// The message as a JSON object.
    public var jsonObject: JSONObject {
        // The bytes come from the message's own writer, so they always parse to an object.
        (try? JSONParser().parse(jsonBytes))?.objectValue ?? JSONObject()
    }
}
