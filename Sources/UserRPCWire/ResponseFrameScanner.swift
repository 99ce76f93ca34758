/// Reads an OK response frame in the exact shape the server writes, without building a JSON document
/// for its envelope: the client's hot path.
///
/// `{"type":"response","id":N,"status":{"code":"OK","message":"…"},"payload":{…}}`, keys in that order,
/// whitespace allowed, plain strings. Returns the call id, the message's bytes and the byte range of the payload object
/// (not yet validated: the caller parses it strictly). Anything else returns `nil`, and the caller
/// decodes the frame the general way.
public enum ResponseFrameScanner {
    public static func scanOK(_ body: UnsafeRawBufferPointer) -> (id: UInt64, message: Range<Int>, payload: Range<Int>)? {
        var reader = ByteReader(bytes: body)
        func key(_ name: StaticString) -> Bool {
            reader.skipWhitespace()
            guard let range = reader.plainString(), body.bytes(in: range, equal: name) else { return false }
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
            comma(), key("id"), let id = reader.unsignedInteger(), comma(), key("status"), reader.consume(UInt8(ascii: "{")),
            key("code"), let code = reader.plainString(), body.bytes(in: code, equal: "OK"), comma(), key("message"),
            let message = reader.plainString()
        else { return nil }
        reader.skipWhitespace()
        guard reader.consume(UInt8(ascii: "}")), comma(), key("payload"), reader.peek == UInt8(ascii: "{") else { return nil }
        // The payload runs to the envelope's closing brace, the last non-whitespace byte.
        let payloadStart = reader.index
        var end = body.count
        while end > payloadStart, [0x20, 0x09, 0x0A, 0x0D].contains(body[end - 1]) { end -= 1 }
        guard end - 1 > payloadStart, body[end - 1] == UInt8(ascii: "}") else { return nil }
        return (id, message, payloadStart..<(end - 1))
    }
}
