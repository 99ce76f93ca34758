/// Reads an OK response frame in the exact shape the server writes, without building a JSON document
/// for its envelope: the client's hot path.
///
/// `{"type":"response","id":N,"status":{"code":"OK","message":"…"},"payload":{…}}`, keys in that order,
/// whitespace allowed, plain strings. Returns the call id, the message's bytes and the byte range of the payload object
/// (not yet validated: the caller parses it strictly). Anything else returns `nil`, and the caller
/// decodes the frame the general way.
public enum ResponseFrameScanner {
    public static func scanOK(_ body: UnsafeRawBufferPointer) -> (id: UInt64, message: Range<Int>, payload: Range<Int>)? {
        scanCompactOK(body) ?? scanAnyOK(body)
    }

    private static let compactHead: StaticString = #"{"type":"response","id":"#
    private static let compactStatus: StaticString = #","status":{"code":"OK","message":"#
    private static let compactPayloadKey: StaticString = #"},"payload":"#

    /// The frame exactly as the server writes it, without whitespace: fixed text compared whole.
    private static func scanCompactOK(_ body: UnsafeRawBufferPointer) -> (id: UInt64, message: Range<Int>, payload: Range<Int>)? {
        var reader = ByteReader(bytes: body)
        guard reader.consume(compactHead), let id = reader.unsignedInteger(), reader.consume(compactStatus),
            let message = reader.plainString(), reader.consume(compactPayloadKey), reader.peek == UInt8(ascii: "{"),
            body.count - 1 > reader.index,
            body[body.count - 1] == UInt8(ascii: "}")
        else { return nil }
        return (id, message, reader.index..<(body.count - 1))
    }

    /// The frame with its keys in the server's order, whitespace allowed.
    private static func scanAnyOK(_ body: UnsafeRawBufferPointer) -> (id: UInt64, message: Range<Int>, payload: Range<Int>)? {
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

extension ResponseFrameScanner {
    /// Reads an object of four plain strings in exactly one compact shape, `first` to `fourth` being
    /// the text before each value — `{"id":`, `,"username":`, … — with the closing brace last:
    /// the values' ranges, or `nil` for anything else (then ``scanFlatPayload(_:)`` reads it).
    public static func scanCompactStrings(
        _ payload: UnsafeRawBufferPointer, _ first: StaticString, _ second: StaticString, _ third: StaticString,
        _ fourth: StaticString
    ) -> (Range<Int>, Range<Int>, Range<Int>, Range<Int>)? {
        var reader = ByteReader(bytes: payload)
        func value(after text: StaticString) -> Range<Int>? {
            reader.consume(text) ? reader.plainString() : nil
        }
        guard let a = value(after: first), let b = value(after: second), let c = value(after: third), let d = value(after: fourth),
            reader.index == payload.count - 1, payload[reader.index] == UInt8(ascii: "}")
        else { return nil }
        return (a, b, c, d)
    }
}
