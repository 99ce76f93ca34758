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
/// A message is written into memory reserved once in the buffer — one `ByteBuffer` operation per
/// message, not one per field. A frame (a response or a request) is written in one pass into room
/// for most messages; a message that might not fit (or any message written by
/// ``RPCMessage/write(into:)``) is written in two passes of its own ``RPCMessage/write(fields:)``: the
/// first measures an upper bound of its length, the second writes it. A writer exists only inside
/// those functions; do not keep one.
public struct MessageFieldWriter {
    // Inlinable, with what its inlinable methods use: a message's `write(fields:)` is specialized
    // with each field's type where it is used (the server's hot path), with no generic dispatch.
    /// Where the message is written; `nil` while measuring.
    @usableFromInline let start: UnsafeMutableRawPointer?
    /// How many bytes the memory at `start` holds.
    @usableFromInline let capacity: Int
    /// Bytes written so far, or (measuring) the upper bound so far.
    @usableFromInline var length = 0
    /// Set when a write might not have fitted in `capacity`: it was not made, and the message must
    /// be measured and written again.
    @usableFromInline var overflowed = false
    /// Whether a member has been written in the object being written (the next one needs a comma).
    @usableFromInline var needsComma = false

    /// A writer that only measures.
    @usableFromInline
    init(measuring: Void) {
        start = nil
        capacity = .max
    }

    /// A writer into memory that holds `capacity` bytes (by default, at least what a measuring pass found).
    @usableFromInline
    init(writingTo start: UnsafeMutableRawPointer, capacity: Int = .max) {
        self.start = start
        self.capacity = capacity
    }

    /// Writes at most `maxBytes` with `body`, which returns how many it wrote; measuring, counts `maxBytes`.
    @inlinable @inline(__always)
    mutating func emit(maxBytes: Int, _ body: (UnsafeMutableRawPointer) -> Int) {
        guard let start else {
            length += maxBytes
            return
        }
        guard !overflowed, maxBytes <= capacity - length else {
            overflowed = true
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

    /// Writes a field holding a message, unless it is `nil`.
    @inlinable
    public mutating func field<Message: RPCMessage>(_ name: StaticString, message: Message?) {
        guard let message else { return }
        field(name, message: message)
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
        let maxBytes = JSONStringText.maxLength(utf8Count: text.utf8.count)
        guard start != nil else {
            length += maxBytes
            return
        }
        func write(_ utf8: UnsafeBufferPointer<UInt8>) {
            emit(maxBytes: maxBytes) { memory in JSONStringText.write(utf8, to: memory) }
        }
        // A native string lends its UTF-8 as it is (no copy of the string, as `withUTF8` on a `var` makes).
        if text.utf8.withContiguousStorageIfAvailable(write) == nil {
            var text = text
            text.withUTF8(write)
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
    /// `,"metadata":{"x-request-id":`: a response's metadata when it holds only a request id (the id
    /// follows as a JSON string, then `}`).
    @usableFromInline static let requestIDPrefix: StaticString = #","metadata":{"x-request-id":"#

    /// Appends one length-prefixed frame `head` + `id` + `middle` + `tail` + `message` + `}`, written
    /// into memory reserved once in `buffer`: the shape of both an OK response and a request. The
    /// frame is written in one pass into room for its fixed parts and ``singlePassMessageBytes`` of
    /// message; a message that might not fit is measured first and written in a second pass.
    @inlinable
    static func appendFrame<Message: RPCMessage>(
        head: StaticString, id: UInt64, middle: [UInt8]?, requestID: RequestID? = nil, tail: StaticString?, message: Message,
        into buffer: inout ByteBuffer
    ) {
        let requestIDBytes = requestID.map { requestIDPrefix.utf8CodeUnitCount + $0.maxQuotedLength + 1 } ?? 0
        let fixedBytes = 4 + head.utf8CodeUnitCount + 20 + (middle?.count ?? 0) + requestIDBytes + (tail?.utf8CodeUnitCount ?? 0) + 1
        var fitted = false
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: fixedBytes + singlePassMessageBytes) { memory in
            let written = writeFrame(
                head: head, id: id, middle: middle, requestID: requestID, tail: tail, message: message, into: memory.baseAddress!,
                messageCapacity: memory.count - fixedBytes)
            fitted = written != nil
            return written ?? 0
        }
        guard !fitted else { return }
        var measure = MessageFieldWriter(measuring: ())
        measure.writeMessage(message)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: fixedBytes + measure.length) { memory in
            let written = writeFrame(
                head: head, id: id, middle: middle, requestID: requestID, tail: tail, message: message, into: memory.baseAddress!,
                messageCapacity: measure.length)
            precondition(written != nil, "\(Message.self).write(fields:) wrote more than it measured")
            return written ?? 0
        }
    }

    /// Room for a message in a frame's first, single writing pass (most messages fit).
    @usableFromInline static let singlePassMessageBytes = 1024

    /// Writes the frame at `base`; `nil` when the message might not fit in `messageCapacity` bytes
    /// (then nothing is to be kept).
    @inlinable
    static func writeFrame<Message: RPCMessage>(
        head: StaticString, id: UInt64, middle: [UInt8]?, requestID: RequestID?, tail: StaticString?, message: Message,
        into base: UnsafeMutableRawPointer, messageCapacity: Int
    ) -> Int? {
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
        if let requestID {
            // `,"metadata":{"x-request-id":"…"}`
            (base + offset).copyMemory(from: requestIDPrefix.utf8Start, byteCount: requestIDPrefix.utf8CodeUnitCount)
            offset += requestIDPrefix.utf8CodeUnitCount
            offset += requestID.write(quotedTo: base + offset)
            (base + offset).storeBytes(of: UInt8(ascii: "}"), as: UInt8.self)
            offset += 1
        }
        if let tail {
            (base + offset).copyMemory(from: tail.utf8Start, byteCount: tail.utf8CodeUnitCount)
            offset += tail.utf8CodeUnitCount
        }
        var writer = MessageFieldWriter(writingTo: base + offset, capacity: messageCapacity)
        writer.writeMessage(message)
        guard !writer.overflowed else { return nil }
        offset += writer.length
        (base + offset).storeBytes(of: UInt8(ascii: "}"), as: UInt8.self)
        offset += 1
        base.storeBytes(of: UInt32(offset - 4).bigEndian, as: UInt32.self)
        return offset
    }
}
