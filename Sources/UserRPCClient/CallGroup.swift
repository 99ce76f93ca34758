import StrictJSON
import UserRPCWire

/// What the connection handler tells a group of calls sent together about each member's answer.
protocol CallGroupMembership: AnyObject, Sendable {
    /// Member `index` was answered OK with `payload` (the payload object's bytes, not yet validated),
    /// read at `answeredAt`; `metadata` reads the response's metadata, for a group that keeps it.
    /// Returns `false`, and finishes nothing, when the payload is not a JSON object: the frame is then
    /// malformed, and the handler decodes it the general way to say so.
    func finishOK(
        _ index: Int, payload: UnsafeRawBufferPointer, metadata: () -> [String: String], parser: JSONParser, answeredAt: ContinuousClock.Instant
    ) -> Bool
    /// Member `index` was answered some other way (an error status, a failure of the connection);
    /// a member already answered is left alone.
    func finish(_ index: Int, _ result: Result<ServerFrame, UserRPCError>)
    var isComplete: Bool { get }
    func isAnswered(_ index: Int) -> Bool
}

/// How a group turns an OK payload into a response value.
struct ResponseDecoding<Response: Sendable>: Sendable {
    /// Reads the payload's bytes directly when they are plain (flat strings and integers); `nil`
    /// when they are not (then ``decode`` reads the parsed document, and gives the exact error).
    var scan: @Sendable (UnsafeRawBufferPointer) -> Response?
    var decode: @Sendable (JSONObject) throws(UserRPCError) -> Response
    /// Puts the response's metadata into the response, for a decoding that keeps it; `nil` (the
    /// common case) reads no metadata at all.
    var attachMetadata: (@Sendable (inout Response, [String: String]) -> Void)? = nil

    /// The payload as a JSON object.
    static var jsonObject: ResponseDecoding<JSONObject> {
        ResponseDecoding<JSONObject>(scan: { _ in nil }, decode: { $0 })
    }

    /// The payload as a message, read tolerantly: fields this build does not know are skipped, so a
    /// newer server may add optional response fields.
    static func message(_ type: Response.Type) -> ResponseDecoding<Response> where Response: RPCMessage {
        ResponseDecoding(
            scan: { bytes in
                guard let members = ResponseFrameScanner.scanFlatPayload(bytes) else { return nil }
                return Response.decode(plain: members, in: bytes, unknownFields: .ignore)
            },
            decode: { object throws(UserRPCError) in
                do {
                    return try Response.decode(json: object, unknownFields: .ignore)
                } catch {
                    // The server answered something this build cannot read: its fault, so INTERNAL.
                    throw UserRPCError(code: .internal, message: "response does not match \(Response.messageName): \(error)")
                }
            })
    }

    /// The payload as a message, as ``message(_:)``, with the response's metadata.
    static func messageWithMetadata<Message: RPCMessage>(_ type: Message.Type) -> ResponseDecoding<UserRPCClient.Response<Message>>
    where Response == UserRPCClient.Response<Message> {
        let message = ResponseDecoding<Message>.message(Message.self)
        return ResponseDecoding(
            scan: { bytes in message.scan(bytes).map { UserRPCClient.Response(message: $0, metadata: [:]) } },
            decode: { object throws(UserRPCError) in UserRPCClient.Response(message: try message.decode(object), metadata: [:]) },
            attachMetadata: { response, metadata in response.metadata = metadata })
    }
}

/// The answers to calls sent together (``UserRPCClient/callPipelined(_:_:options:)``, and every
/// single call, a group of one): one task waits for all of them, and each answer's arrival time is kept.
///
/// `@unchecked Sendable`: after creation, only the connection's event loop touches it (the handler
/// finishes its members there), until the last member resumes the waiting task.
final class CallGroup<Response: Sendable>: CallGroupMembership, @unchecked Sendable {
    typealias Answer = UserRPCClient.PipelinedAnswer<Response>

    /// Filled in place as answers arrive, then handed to the waiting task whole.
    private var answers: [Answer]
    private var answered: [Bool]
    private var remaining: Int
    private let decoding: ResponseDecoding<Response>
    private let completion: @Sendable ([Answer]) -> Void

    init(count: Int, decoding: ResponseDecoding<Response>, completion: @escaping @Sendable ([Answer]) -> Void) {
        let unanswered = Answer(result: .failure(UserRPCError(code: .internal, message: "no answer")), answeredAt: .now)
        answers = Array(repeating: unanswered, count: count)
        answered = Array(repeating: false, count: count)
        remaining = count
        self.decoding = decoding
        self.completion = completion
    }

    var isComplete: Bool { remaining == 0 }

    func isAnswered(_ index: Int) -> Bool { answered[index] }

    func finishOK(
        _ index: Int, payload: UnsafeRawBufferPointer, metadata: () -> [String: String], parser: JSONParser, answeredAt: ContinuousClock.Instant
    ) -> Bool {
        guard !answered[index] else { return true }
        if var response = decoding.scan(payload) {
            if let attach = decoding.attachMetadata { attach(&response, metadata()) }
            complete(index, .success(consume response), at: answeredAt)
            return true
        }
        guard case .object(let object)? = try? parser.parse(payload) else { return false }
        var result = Result { () throws(UserRPCError) in try decoding.decode(object) }
        if let attach = decoding.attachMetadata, case .success(var response) = result {
            attach(&response, metadata())
            result = .success(response)
        }
        complete(index, result, at: answeredAt)
        return true
    }

    func finish(_ index: Int, _ result: Result<ServerFrame, UserRPCError>) {
        guard !answered[index] else { return }
        complete(
            index,
            result.flatMap { frame in
                Result { () throws(UserRPCError) in
                    var response = try decoding.decode(UserRPCClient.payload(of: frame))
                    if let attach = decoding.attachMetadata, case .response(let envelope) = frame { attach(&response, envelope.metadata) }
                    return response
                }
            }, at: .now)
    }

    private func complete(_ index: Int, _ result: consuming Result<Response, UserRPCError>, at answeredAt: ContinuousClock.Instant) {
        answered[index] = true
        answers[index] = Answer(result: result, answeredAt: answeredAt)
        remaining -= 1
        if remaining == 0 {
            let answers = self.answers
            self.answers = []
            completion(answers)
        }
    }
}
