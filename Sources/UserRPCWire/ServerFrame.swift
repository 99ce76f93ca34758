import NIOCore
import StrictJSON

/// A frame the server sends: a response, a message of a stream, a pong, or a goaway.
public enum ServerFrame: Sendable, Hashable {
    /// The one answer to a call (`"type":"response"`); for a server-streaming call, its end.
    case response(ResponseEnvelope)
    /// One message of the stream of call `id` (`"type":"message"`), sent before its response.
    case message(id: UInt64, payload: JSONObject)
    /// The answer to ping `id` (`"type":"pong"`).
    case pong(id: UInt64)
    /// The server is shutting down or the connection was idle: send no new calls on this connection.
    case goaway
}

/// `{"type":"response", …}`: the single answer to one call.
public struct ResponseEnvelope: Sendable, Hashable {
    /// The id of the call this answers.
    public var id: UInt64
    /// Response metadata a handler or interceptor set (for example `x-request-id`); often empty.
    public var metadata: [String: String]
    /// OK, or why the call failed.
    public var status: RPCStatus
    /// Present exactly when the status is OK.
    public var payload: JSONObject?

    /// A response envelope with these members.
    public init(id: UInt64, metadata: [String: String] = [:], status: RPCStatus, payload: JSONObject? = nil) {
        self.id = id
        self.metadata = metadata
        self.status = status
        self.payload = payload
    }
}

/// Why a server frame could not be read (a client-side error).
public struct ServerFrameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the frame, for people.
    public var description: String
}

extension ServerFrame {
    /// Writes a response frame body. `payload` is pre-encoded JSON of an object, and is written only when the status is OK.
    public static func encodeResponse(
        id: UInt64, metadata: [String: String] = [:], status: RPCStatus, payload: [UInt8]?, into writer: inout JSONWriter
    ) {
        writer.beginObject()
        writer.key("type")
        writer.string("response")
        writer.key("id")
        writer.uint64(id)
        if !metadata.isEmpty {
            writer.key("metadata")
            ResponseFrameWriter.writeMetadata(metadata, into: &writer)
        }
        writer.key("status")
        status.encode(into: &writer)
        if status.code == .ok {
            writer.key("payload")
            if let payload { writer.raw(payload) } else { writer.raw(Array("{}".utf8)) }
        }
        writer.endObject()
    }

    @usableFromInline static let messageHead: StaticString = #"{"type":"message","id":"#
    @usableFromInline static let messagePayloadKey: StaticString = #","payload":"#

    /// Appends a `message` frame of the stream of call `id`, `message` encoded in place.
    @inlinable
    public static func writeMessage<Message: RPCMessage>(id: UInt64, message: Message, into buffer: inout ByteBuffer) {
        MessageFieldWriter.appendFrame(head: messageHead, id: id, middle: nil, tail: messagePayloadKey, message: message, into: &buffer)
    }

    /// Appends a pong frame for ping `id`.
    public static func writePong(id: UInt64, into buffer: inout ByteBuffer) {
        var writer = JSONWriter(reservingCapacity: 48)
        ServerFrame.pong(id: id).encode(into: &writer)
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
    }

    /// Appends a goaway frame.
    public static func writeGoAway(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(17))
        buffer.writeStaticString(#"{"type":"goaway"}"#)
    }

    /// The frame body as JSON.
    public func encode(into writer: inout JSONWriter) {
        switch self {
        case .response(let response):
            var payloadBytes: [UInt8]?
            if let payload = response.payload {
                var payloadWriter = JSONWriter()
                payloadWriter.value(.object(payload))
                payloadBytes = payloadWriter.bytes
            }
            Self.encodeResponse(id: response.id, metadata: response.metadata, status: response.status, payload: payloadBytes, into: &writer)
        case .message(let id, let payload):
            writer.beginObject()
            writer.key("type")
            writer.string("message")
            writer.key("id")
            writer.uint64(id)
            writer.key("payload")
            writer.value(.object(payload))
            writer.endObject()
        case .pong(let id):
            writer.beginObject()
            writer.key("type")
            writer.string("pong")
            writer.key("id")
            writer.uint64(id)
            writer.endObject()
        case .goaway:
            writer.beginObject()
            writer.key("type")
            writer.string("goaway")
            writer.endObject()
        }
    }

    /// Reads a frame body sent by a server.
    public static func decode(_ body: UnsafeRawBufferPointer, parser: JSONParser = JSONParser()) throws(ServerFrameError) -> ServerFrame {
        let document: JSONValue
        do {
            document = try parser.parse(body)
        } catch {
            throw ServerFrameError(description: "server frame is not valid JSON: \(error)")
        }
        guard case .object(let object) = document, let type = object["type"]?.stringValue else {
            throw ServerFrameError(description: "server frame is not an object with a type")
        }
        switch type {
        case "goaway":
            return .goaway
        case "pong":
            guard let id = object["id"]?.uint64Value else { throw ServerFrameError(description: "pong without an id") }
            return .pong(id: id)
        case "message":
            guard let id = object["id"]?.uint64Value else { throw ServerFrameError(description: "message without an id") }
            guard let payload = object["payload"]?.objectValue else { throw ServerFrameError(description: "message \(id) has no payload object") }
            return .message(id: id, payload: payload)
        case "response":
            guard let id = object["id"]?.uint64Value else { throw ServerFrameError(description: "response without an id") }
            guard let statusValue = object["status"], let status = RPCStatus(json: statusValue) else {
                throw ServerFrameError(description: "response \(id) has no valid status")
            }
            // Metadata is optional; entries that are not strings are skipped (a reader tolerates what a
            // newer server adds).
            var metadata: [String: String] = [:]
            if case .object(let entries)? = object["metadata"] {
                for member in entries.members { if case .string(let value) = member.value { metadata[member.key] = value } }
            }
            return .response(ResponseEnvelope(id: id, metadata: metadata, status: status, payload: object["payload"]?.objectValue))
        default:
            throw ServerFrameError(description: "unknown server frame type '\(type)'")
        }
    }
}
