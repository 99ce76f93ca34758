import NIOCore
import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes a message's fields as a JSON object straight into a `ByteBuffer`: the one encoder of every
/// message, used by the server for its responses and by the client for its requests.
///
/// A message is written in two passes of its own ``RPCMessage/write(fields:)``: the first measures
/// an upper bound of its length, the second writes it into memory reserved once in the buffer — one
/// `ByteBuffer` operation per message, not one per field. A writer exists only inside
/// ``RPCMessage/write(into:)``; do not keep one.
public struct MessageFieldWriter {
    // Inlinable, with what its inlinable methods use: a message's `write(fields:)` is specialized
    // with each field's type where it is used (the server's hot path), with no generic dispatch.
    /// Where the message is written; `nil` while measuring.
    @usableFromInline let start: UnsafeMutableRawPointer?
    /// Bytes written so far, or (measuring) the upper bound so far.
    @usableFromInline var length = 0
    /// Whether a member has been written in the object being written (the next one needs a comma).
    @usableFromInline var needsComma = false

    /// A writer that only measures.
    @usableFromInline
    init(measuring: Void) {
        start = nil
    }

    /// A writer into memory that holds at least what a measuring pass found.
    @usableFromInline
    init(writingTo start: UnsafeMutableRawPointer) {
        self.start = start
    }

    /// Writes at most `maxBytes` with `body`, which returns how many it wrote; measuring, counts `maxBytes`.
    @inlinable @inline(__always)
    mutating func emit(maxBytes: Int, _ body: (UnsafeMutableRawPointer) -> Int) {
        guard let start else {
            length += maxBytes
            return
        }
        length += body(start + length)
    }

    @inlinable @inline(__always)
    mutating func emitByte(_ byte: UInt8) {
        emit(maxBytes: 1) { memory in
            memory.storeBytes(of: byte, as: UInt8.self)
            return 1
        }
    }

    // MARK: Fields

    /// Writes a field.
    @inlinable
    public mutating func field<Value: MessageFieldValue>(_ name: StaticString, _ value: Value) {
        writeKey(name)
        value.write(to: &self)
    }

    /// Writes a field when it has a value; leaves the key out when `nil`.
    @inlinable
    public mutating func field<Value: MessageFieldValue>(_ name: StaticString, _ value: Value?) {
        guard let value else { return }
        field(name, value)
    }

    /// Writes a field holding a message.
    @inlinable
    public mutating func field<Message: RPCMessage>(_ name: StaticString, message: Message) {
        writeKey(name)
        writeMessage(message)
    }

    /// Writes a field holding an array of messages.
    @inlinable
    public mutating func field<Element: RPCMessage>(_ name: StaticString, messages: [Element]) {
        writeKey(name)
        emitByte(UInt8(ascii: "["))
        for (index, element) in messages.enumerated() {
            if index > 0 { emitByte(UInt8(ascii: ",")) }
            writeMessage(element)
        }
        emitByte(UInt8(ascii: "]"))
    }

    /// Writes a field holding any JSON value (for messages that carry free-form JSON).
    public mutating func field(_ name: StaticString, json value: JSONValue) {
        writeKey(name)
        var writer = JSONWriter()
        writer.value(value)
        let bytes = writer.bytes
        emit(maxBytes: bytes.count) { memory in
            bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return bytes.count
        }
    }

    // MARK: Values (for ``MessageFieldValue`` conformances)

    /// Writes `text` as a quoted, escaped JSON string.
    public mutating func writeString(_ text: String) {
        guard start != nil else {
            length += JSONStringText.maxLength(utf8Count: text.utf8.count)
            return
        }
        var text = text
        text.withUTF8 { utf8 in
            emit(maxBytes: 0) { memory in JSONStringText.write(utf8, to: memory) }
        }
    }

    /// Writes a signed integer in decimal.
    public mutating func writeInteger(_ value: Int64) {
        if value < 0 { emitByte(UInt8(ascii: "-")) }
        writeUnsigned(value.magnitude)
    }

    /// Writes an unsigned integer in decimal.
    public mutating func writeUnsigned(_ value: UInt64) {
        emit(maxBytes: 20) { memory in
            let count = DecimalText.digitCount(value)
            DecimalText.write(value, into: UnsafeMutableRawBufferPointer(start: memory, count: count))
            return count
        }
    }

    /// Writes `true` or `false`.
    public mutating func writeBool(_ value: Bool) {
        let text: StaticString = value ? "true" : "false"
        emit(maxBytes: 5) { memory in
            memory.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
            return text.utf8CodeUnitCount
        }
    }

    /// Writes a UUID as a quoted lower-case string.
    public mutating func writeUUID(_ value: UUID) {
        emit(maxBytes: 38) { memory in
            memory.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            value.writeLowercasedText(into: UnsafeMutableRawBufferPointer(start: memory + 1, count: 36))
            (memory + 37).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            return 38
        }
    }

    /// Writes a timestamp as a quoted RFC 3339 string, UTC, milliseconds.
    public mutating func writeTimestamp(_ value: Date) {
        let length = RFC3339.formattedLength + 2
        emit(maxBytes: length) { memory in
            memory.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            RFC3339.write(value, into: UnsafeMutableRawBufferPointer(start: memory + 1, count: length - 2))
            (memory + length - 1).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            return length
        }
    }

    // MARK: Objects

    /// Writes `message` as a JSON object.
    @inlinable
    public mutating func writeMessage<Message: RPCMessage>(_ message: Message) {
        let outer = needsComma
        needsComma = false
        emitByte(UInt8(ascii: "{"))
        message.write(fields: &self)
        emitByte(UInt8(ascii: "}"))
        needsComma = outer
    }

    /// `"name":`, after a comma when a member came before.
    @inlinable
    mutating func writeKey(_ name: StaticString) {
        let count = name.utf8CodeUnitCount
        let comma = needsComma
        needsComma = true
        emit(maxBytes: count + 4) { memory in
            var offset = 0
            if comma {
                memory.storeBytes(of: UInt8(ascii: ","), as: UInt8.self)
                offset = 1
            }
            (memory + offset).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            (memory + offset + 1).copyMemory(from: name.utf8Start, byteCount: count)
            (memory + offset + count + 1).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            (memory + offset + count + 2).storeBytes(of: UInt8(ascii: ":"), as: UInt8.self)
            return offset + count + 3
        }
    }
}

extension MessageFieldWriter {
    /// `,"metadata":{"x-request-id":"`: a response's metadata when it holds only a request id.
    @usableFromInline static let requestIDPrefix: StaticString = #","metadata":{"x-request-id":""#

    /// Appends one length-prefixed frame `head` + `id` + `middle` + `tail` + `message` + `}`, the
    /// message measured first and the whole frame written into memory reserved once in `buffer`: the
    /// shape of both an OK response and a request.
    @inlinable
    static func appendFrame<Message: RPCMessage>(
        head: StaticString, id: UInt64, middle: [UInt8]?, requestID: String? = nil, tail: StaticString?, message: Message,
        into buffer: inout ByteBuffer
    ) {
        var measure = MessageFieldWriter(measuring: ())
        measure.writeMessage(message)
        var requestID = requestID
        let requestIDBytes = requestID.map { requestIDPrefix.utf8CodeUnitCount + $0.utf8.count + 2 } ?? 0
        let bound =
            4 + head.utf8CodeUnitCount + 20 + (middle?.count ?? 0) + requestIDBytes + (tail?.utf8CodeUnitCount ?? 0) + measure.length + 1
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { memory in
            let base = memory.baseAddress!
            var offset = 4
            (base + offset).copyMemory(from: head.utf8Start, byteCount: head.utf8CodeUnitCount)
            offset += head.utf8CodeUnitCount
            let digits = DecimalText.digitCount(id)
            DecimalText.write(id, into: UnsafeMutableRawBufferPointer(start: base + offset, count: digits))
            offset += digits
            if let middle {
                middle.withUnsafeBytes { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                offset += middle.count
            }
            if requestID != nil {
                // `,"metadata":{"x-request-id":"…"}`: the id needs no escaping (printable ASCII, no `"` or `\`).
                (base + offset).copyMemory(from: requestIDPrefix.utf8Start, byteCount: requestIDPrefix.utf8CodeUnitCount)
                offset += requestIDPrefix.utf8CodeUnitCount
                requestID!.withUTF8 { utf8 in
                    (base + offset).copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
                    offset += utf8.count
                }
                (base + offset).storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
                (base + offset + 1).storeBytes(of: UInt8(ascii: "}"), as: UInt8.self)
                offset += 2
            }
            if let tail {
                (base + offset).copyMemory(from: tail.utf8Start, byteCount: tail.utf8CodeUnitCount)
                offset += tail.utf8CodeUnitCount
            }
            var writer = MessageFieldWriter(writingTo: base + offset)
            writer.writeMessage(message)
            offset += writer.length
            (base + offset).storeBytes(of: UInt8(ascii: "}"), as: UInt8.self)
            offset += 1
            base.storeBytes(of: UInt32(offset - 4).bigEndian, as: UInt32.self)
            return offset
        }
    }
}
