/// Reads an OK response frame in the shape the server writes, without building a JSON document for
/// its envelope: the client's hot path.
///
/// `{"type":"response","id":N[,"metadata":{…}],"status":{"code":"OK","message":"…"},"payload":{…}}`,
/// keys in that order, whitespace allowed, plain strings. Returns the call id, the metadata's
/// entries, the message's bytes and the byte range of the payload object (not yet validated: the
/// caller reads it strictly). Anything else returns `nil`, and the caller decodes the frame the
/// general way.
public enum ResponseFrameScanner {
    /// What ``scanOK(_:)`` read.
    public struct ScannedOK: Sendable {
        /// The call's id.
        public var id: UInt64
        /// The metadata's entries (plain strings); empty when the frame has none.
        public var metadata: ScannedPayload
        /// The status message's bytes.
        public var message: Range<Int>
        /// The payload object's bytes.
        public var payload: Range<Int>
    }

    /// The OK response in frame `body`, or `nil` when it is not one in the server's shape.
    public static func scanOK(_ body: UnsafeRawBufferPointer) -> ScannedOK? {
        scanCompactOK(body) ?? scanAnyOK(body)
    }

    private static let compactHead: StaticString = #"{"type":"response","id":"#
    private static let compactMetadataKey: StaticString = #","metadata":"#
    private static let compactStatus: StaticString = #","status":{"code":"OK","message":"#
    private static let compactPayloadKey: StaticString = #"},"payload":"#

    /// The frame exactly as the server writes it, without whitespace: fixed text compared whole.
    private static func scanCompactOK(_ body: UnsafeRawBufferPointer) -> ScannedOK? {
        var reader = ByteReader(bytes: body)
        var metadata = ScannedPayload()
        guard reader.consume(compactHead), let id = reader.unsignedInteger() else { return nil }
        if reader.consume(compactMetadataKey) {
            guard reader.flatObject(into: &metadata), metadata.allStrings else { return nil }
        }
        guard reader.consume(compactStatus), let message = reader.plainString(), reader.consume(compactPayloadKey),
            reader.peek == UInt8(ascii: "{"), body.count - 1 > reader.index, body[body.count - 1] == UInt8(ascii: "}")
        else { return nil }
        return ScannedOK(id: id, metadata: metadata, message: message, payload: reader.index..<(body.count - 1))
    }

    /// The frame with its keys in the server's order, whitespace allowed.
    private static func scanAnyOK(_ body: UnsafeRawBufferPointer) -> ScannedOK? {
        var reader = ByteReader(bytes: body)
        var metadata = ScannedPayload()
        func key(_ name: StaticString) -> Bool {
            let start = reader.index
            reader.skipWhitespace()
            guard let range = reader.plainString(), body.bytes(in: range, equal: name) else {
                reader.index = start
                return false
            }
            reader.skipWhitespace()
            guard reader.consume(UInt8(ascii: ":")) else { return false }
            reader.skipWhitespace()
            return true
        }
        func comma() -> Bool {
            reader.skipWhitespace()
            return reader.consume(UInt8(ascii: ","))
        }
        reader.skipWhitespace()
        guard reader.consume(UInt8(ascii: "{")), key("type"), let type = reader.plainString(), body.bytes(in: type, equal: "response"),
            comma(), key("id"), let id = reader.unsignedInteger(), comma()
        else { return nil }
        if key("metadata") {
            guard reader.flatObject(into: &metadata), metadata.allStrings, comma() else { return nil }
        }
        guard key("status"), reader.consume(UInt8(ascii: "{")), key("code"), let code = reader.plainString(), body.bytes(in: code, equal: "OK"),
            comma(), key("message"), let message = reader.plainString()
        else { return nil }
        reader.skipWhitespace()
        guard reader.consume(UInt8(ascii: "}")), comma(), key("payload"), reader.peek == UInt8(ascii: "{") else { return nil }
        // The payload runs to the envelope's closing brace, the last non-whitespace byte.
        let payloadStart = reader.index
        var end = body.count
        while end > payloadStart, [0x20, 0x09, 0x0A, 0x0D].contains(body[end - 1]) { end -= 1 }
        guard end - 1 > payloadStart, body[end - 1] == UInt8(ascii: "}") else { return nil }
        return ScannedOK(id: id, metadata: metadata, message: message, payload: payloadStart..<(end - 1))
    }
}

extension ResponseFrameScanner {
    /// Reads a payload object made only of plain strings and unsigned integers, at most
    /// ``ScannedPayload/capacity`` members with distinct keys (the shape of `user.v1.User`), with
    /// nothing but whitespace around it; anything else returns `nil`, and the caller parses it the
    /// general way.
    public static func scanFlatPayload(_ payload: UnsafeRawBufferPointer) -> ScannedPayload? {
        var reader = ByteReader(bytes: payload)
        var scanned = ScannedPayload()
        reader.skipWhitespace()
        guard reader.flatObject(into: &scanned) else { return nil }
        reader.skipWhitespace()
        return reader.atEnd ? scanned : nil
    }
}
