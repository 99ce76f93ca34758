import NIOCore
import StrictJSON

/// A frame a client sends: a call, a cancellation, credit for a stream, or a ping.
public enum ClientFrame: Sendable, Hashable {
    /// A call (`"type":"request"`).
    case request(RequestEnvelope)
    /// Cancels call `id` (`"type":"cancel"`); the server answers it CANCELLED unless it is already answered.
    case cancel(id: UInt64)
    /// Lets the server send `add` more messages of the stream of call `id` (`"type":"credit"`).
    case credit(id: UInt64, add: UInt64)
    /// Asks for a pong with the same `id` (`"type":"ping"`).
    case ping(id: UInt64)

    /// The largest `add` of a credit frame, and the largest `window` of a request: 2^32 - 1.
    public static let maxCredit: UInt64 = 4_294_967_295

    /// Appends a `credit` frame granting `add` more messages of the stream of call `id`.
    public static func writeCredit(id: UInt64, add: UInt64, into buffer: inout ByteBuffer) {
        var writer = JSONWriter(reservingCapacity: 64)
        writer.beginObject()
        writer.key("type")
        writer.string("credit")
        writer.key("id")
        writer.uint64(id)
        writer.key("add")
        writer.uint64(add)
        writer.endObject()
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
    }

    /// Appends a `ping` or `cancel` frame for `id` (length prefix and body); a request is written
    /// by ``RequestFrameEncoder``.
    public static func writeControl(_ type: StaticString, id: UInt64, into buffer: inout ByteBuffer) {
        var writer = JSONWriter(reservingCapacity: 48)
        writer.beginObject()
        writer.key("type")
        writer.string("\(type)")
        writer.key("id")
        writer.uint64(id)
        writer.endObject()
        WireProtocol.writeFrame(writer.bytes, into: &buffer)
    }
}

/// `{"type":"request", …}`: one call.
public struct RequestEnvelope: Sendable, Hashable {
    /// Unique among the connection's calls in flight; any value in `0...UInt64.max`.
    public var id: UInt64
    /// `package.Service/Method`, for example `user.v1.UserService/GetUser`.
    public var method: String
    /// The call's deadline, in milliseconds from when the server reads the frame.
    public var timeoutMilliseconds: UInt64?
    /// Call metadata, for example `authorization` or `x-request-id`; empty when the frame has none.
    public var metadata: [String: String]
    /// The request message as a JSON object; empty when the frame has none.
    public var payload: JSONObject
    /// For a server-streaming method: how many messages the server may send before the client grants
    /// more with `credit` frames; `nil` for the server's default. Ignored by unary methods.
    public var window: UInt64?

    /// A request envelope with these members.
    public init(
        id: UInt64, method: String, timeoutMilliseconds: UInt64? = nil, metadata: [String: String] = [:], payload: JSONObject,
        window: UInt64? = nil
    ) {
        self.id = id
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.payload = payload
        self.window = window
    }

    /// The frame body as JSON.
    public func encode(into writer: inout JSONWriter) {
        var payloadWriter = JSONWriter()
        payloadWriter.value(.object(payload))
        Self.encode(
            id: id, method: method, timeoutMilliseconds: timeoutMilliseconds, metadata: metadata, payload: payloadWriter.bytes,
            window: window, into: &writer)
    }

    /// Writes a request frame body whose payload is already encoded JSON object text (the bytes of
    /// ``RequestFrameEncoder``).
    public static func encode(
        id: UInt64, method: String, timeoutMilliseconds: UInt64?, metadata: [String: String], payload: [UInt8], window: UInt64? = nil,
        into writer: inout JSONWriter
    ) {
        let encoder = RequestFrameEncoder(method: method, timeoutMilliseconds: timeoutMilliseconds, metadata: metadata, window: window)
        writer.raw(encoder.body(id: id, payload: payload))
    }
}

/// Why a client frame cannot be served.
public enum ClientFrameError: Error, Sendable, Hashable {
    /// The frame names a call id: answer that call with `status` and keep the connection.
    case reject(id: UInt64, status: RPCStatus)
    /// A malformed `ping`, `cancel` or `credit`: it is not a call, so it is never answered with a
    /// response (which would share its id with a call); the server drops it.
    case ignore(reason: String)
    /// No call id can be known: the connection must be closed.
    case fatal(reason: String)
}

extension ClientFrame {
    private static let requestKeys: Set<String> = ["type", "id", "method", "timeout_ms", "metadata", "payload", "window"]

    /// Reads a frame body. Errors say whether to answer the call or close the connection.
    public static func decode(_ body: UnsafeRawBufferPointer, parser: JSONParser = JSONParser()) throws(ClientFrameError) -> ClientFrame {
        let document: JSONValue
        do {
            document = try parser.parse(body)
        } catch {
            // Grammatical JSON that breaks one of the parser's own rules costs only its call, when
            // the frame gives a usable id; anything else is not JSON, and closes the connection.
            let ruleBroken: String? =
                switch error.reason {
                case .duplicateKey: "a key appears twice in one object"
                case .tooDeep: "arrays and objects nest deeper than \(parser.limits.maxDepth) levels"
                case .numberTooLong: "a number literal is longer than \(parser.limits.maxNumberLength) characters"
                default: nil
                }
            if let ruleBroken, let frame = FrameIDRecovery.recover(body, parser: parser) {
                // A ping, cancel or credit is never answered with a response: a malformed one is dropped.
                if frame.isControl { throw .ignore(reason: "a ping, cancel or credit that breaks a parser rule: \(ruleBroken)") }
                throw .reject(
                    id: frame.id,
                    status: RPCStatus(code: .invalidArgument, message: "the frame is refused: \(ruleBroken) (\(error))"))
            }
            throw .fatal(reason: "frame is not valid JSON: \(error)")
        }
        guard case .object(let object) = document else {
            throw .fatal(reason: "frame is a JSON \(document.typeName), not an object")
        }
        guard let idValue = object["id"] else { throw .fatal(reason: "frame has no id") }
        guard let id = idValue.uint64Value else { throw .fatal(reason: "frame id is not an integer in 0...2^64-1") }
        /// INVALID_ARGUMENT for the envelope member `field`, described as payload violations are
        /// (`is required`, `unknown field`, `must be …`); the message names the field too.
        func reject(_ field: String, _ description: String) -> ClientFrameError {
            .reject(id: id, status: .invalidArgument(fieldViolations: [(field, description)]))
        }
        guard let typeValue = object["type"] else { throw reject("type", "is required") }
        guard case .string(let type) = typeValue else { throw reject("type", "must be a string, not \(typeValue.typeName)") }
        switch type {
        case "request":
            for key in object.keys where !requestKeys.contains(key) {
                throw reject(key, "unknown field")
            }
            guard let methodValue = object["method"] else { throw reject("method", "is required") }
            guard case .string(let method) = methodValue else { throw reject("method", "must be a string, not \(methodValue.typeName)") }
            var timeout: UInt64?
            if let value = object["timeout_ms"] {
                guard let t = value.uint64Value else {
                    if case .number(let text) = value, text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                        throw reject("timeout_ms", "must be an integer (no fraction or exponent) in 0...18446744073709551615")
                    }
                    throw reject("timeout_ms", "must be an integer in 0...18446744073709551615")
                }
                timeout = t
            }
            var metadata: [String: String] = [:]
            if let value = object["metadata"] {
                guard case .object(let entries) = value else { throw reject("metadata", "must be an object, not \(value.typeName)") }
                for member in entries.members {
                    guard case .string(let s) = member.value else {
                        throw reject("metadata.\(member.key)", "must be a string, not \(member.value.typeName)")
                    }
                    metadata[member.key] = s
                }
            }
            var payload = JSONObject()
            if let value = object["payload"] {
                guard case .object(let p) = value else { throw reject("payload", "must be an object, not \(value.typeName)") }
                payload = p
            }
            var window: UInt64?
            if let value = object["window"] {
                guard let w = value.uint64Value, w <= maxCredit else { throw reject("window", "must be an integer in 0...\(maxCredit)") }
                window = w
            }
            return .request(
                RequestEnvelope(id: id, method: method, timeoutMilliseconds: timeout, metadata: metadata, payload: payload, window: window))
        case "cancel", "ping":
            for key in object.keys where key != "type" && key != "id" {
                throw .ignore(reason: "unknown \(type) field '\(key)'")
            }
            return type == "cancel" ? .cancel(id: id) : .ping(id: id)
        case "credit":
            for key in object.keys where key != "type" && key != "id" && key != "add" {
                throw .ignore(reason: "unknown credit field '\(key)'")
            }
            guard let add = object["add"]?.uint64Value, add >= 1, add <= maxCredit else {
                throw .ignore(reason: "a credit frame's add must be an integer in 1...\(maxCredit)")
            }
            return .credit(id: id, add: add)
        default:
            throw reject("type", "must be request, cancel, credit or ping, not '\(RPCError.echo(type))'")
        }
    }
}
