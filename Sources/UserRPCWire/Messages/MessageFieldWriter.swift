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
/// A writer exists only inside ``RPCMessage/write(into:)`` (it points at the caller's buffer, so the
/// buffer is written in place, never copied); do not keep one.
public struct MessageFieldWriter {
    private let buffer: UnsafeMutablePointer<ByteBuffer>
    /// Whether a member has been written in the object being written (the next one needs a comma).
    private var needsComma = false

    init(buffer: UnsafeMutablePointer<ByteBuffer>) {
        self.buffer = buffer
    }

    // MARK: Fields

    /// Writes a field.
    public mutating func field<Value: MessageFieldValue>(_ name: StaticString, _ value: Value) {
        writeKey(name)
        value.write(to: &self)
    }

    /// Writes a field when it has a value; leaves the key out when `nil`.
    public mutating func field<Value: MessageFieldValue>(_ name: StaticString, _ value: Value?) {
        guard let value else { return }
        field(name, value)
    }

    /// Writes a field holding a message.
    public mutating func field<Message: RPCMessage>(_ name: StaticString, message: Message) {
        writeKey(name)
        writeMessage(message)
    }

    /// Writes a field holding an array of messages.
    public mutating func field<Element: RPCMessage>(_ name: StaticString, messages: [Element]) {
        writeKey(name)
        buffer.pointee.writeInteger(UInt8(ascii: "["))
        for (index, element) in messages.enumerated() {
            if index > 0 { buffer.pointee.writeInteger(UInt8(ascii: ",")) }
            writeMessage(element)
        }
        buffer.pointee.writeInteger(UInt8(ascii: "]"))
    }

    /// Writes a field holding any JSON value (for messages that carry free-form JSON).
    public mutating func field(_ name: StaticString, json value: JSONValue) {
        writeKey(name)
        var writer = JSONWriter()
        writer.value(value)
        buffer.pointee.writeBytes(writer.bytes)
    }

    // MARK: Values (for ``MessageFieldValue`` conformances)

    /// Writes `text` as a quoted, escaped JSON string.
    public mutating func writeString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            _ = buffer.pointee.writeWithUnsafeMutableBytes(minimumWritableBytes: JSONStringText.maxLength(utf8Count: utf8.count)) { memory in
                JSONStringText.write(utf8, to: memory.baseAddress!)
            }
        }
    }

    /// Writes a signed integer in decimal.
    public mutating func writeInteger(_ value: Int64) {
        if value < 0 { buffer.pointee.writeInteger(UInt8(ascii: "-")) }
        writeUnsigned(value.magnitude)
    }

    /// Writes an unsigned integer in decimal.
    public mutating func writeUnsigned(_ value: UInt64) {
        let count = DecimalText.digitCount(value)
        _ = buffer.pointee.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { memory in
            DecimalText.write(value, into: memory)
            return count
        }
    }

    /// Writes `true` or `false`.
    public mutating func writeBool(_ value: Bool) {
        buffer.pointee.writeStaticString(value ? "true" : "false")
    }

    /// Writes a UUID as a quoted lower-case string.
    public mutating func writeUUID(_ value: UUID) {
        _ = buffer.pointee.writeWithUnsafeMutableBytes(minimumWritableBytes: 38) { memory in
            memory[0] = UInt8(ascii: "\"")
            value.writeLowercasedText(into: UnsafeMutableRawBufferPointer(rebasing: memory[1..<37]))
            memory[37] = UInt8(ascii: "\"")
            return 38
        }
    }

    /// Writes a timestamp as a quoted RFC 3339 string, UTC, milliseconds.
    public mutating func writeTimestamp(_ value: Date) {
        let length = RFC3339.formattedLength + 2
        _ = buffer.pointee.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { memory in
            memory[0] = UInt8(ascii: "\"")
            RFC3339.write(value, into: UnsafeMutableRawBufferPointer(rebasing: memory[1..<(length - 1)]))
            memory[length - 1] = UInt8(ascii: "\"")
            return length
        }
    }

    // MARK: Objects

    /// Writes `message` as a JSON object.
    public mutating func writeMessage<Message: RPCMessage>(_ message: Message) {
        let outer = needsComma
        needsComma = false
        buffer.pointee.writeInteger(UInt8(ascii: "{"))
        message.write(fields: &self)
        buffer.pointee.writeInteger(UInt8(ascii: "}"))
        needsComma = outer
    }

    /// `"name":`, after a comma when a member came before.
    private mutating func writeKey(_ name: StaticString) {
        let count = name.utf8CodeUnitCount
        let comma = needsComma
        needsComma = true
        _ = buffer.pointee.writeWithUnsafeMutableBytes(minimumWritableBytes: count + 4) { memory in
            var offset = 0
            if comma {
                memory[0] = UInt8(ascii: ",")
                offset = 1
            }
            memory[offset] = UInt8(ascii: "\"")
            (memory.baseAddress! + offset + 1).copyMemory(from: name.utf8Start, byteCount: count)
            memory[offset + count + 1] = UInt8(ascii: "\"")
            memory[offset + count + 2] = UInt8(ascii: ":")
            return offset + count + 3
        }
    }
}
