import StrictJSON
import UserRPCWire

/// What the connection handler tells a group of calls sent together about each member's answer.
protocol CallGroupMembership: AnyObject, Sendable {
    /// Member `index` was answered OK with `payload` (the payload object's bytes, not yet validated),
    /// read at `answeredAt`.
    /// Returns `false`, and finishes nothing, when the payload is not a JSON object: the frame is then
    /// malformed, and the handler decodes it the general way to say so.
    func finishOK(_ index: Int, payload: UnsafeRawBufferPointer, parser: JSONParser, answeredAt: ContinuousClock.Instant) -> Bool
    /// Member `index` was answered some other way (an error status, a failure of the connection);
    /// a member already answered is left alone.
    func finish(_ index: Int, _ result: Result<ServerFrame, UserRPCError>)
    var isComplete: Bool { get }
    func isAnswered(_ index: Int) -> Bool
}

/// How a group turns an OK payload into a response value.
struct ResponseDecoding<Response: Sendable>: Sendable {
    /// Reads the payload's bytes directly when they have a common plain shape; `nil` when they do not
    /// (then ``decode`` reads the parsed document, and gives the exact error).
    var scan: @Sendable (UnsafeRawBufferPointer) -> Response?
    var decode: @Sendable (JSONObject) throws(UserRPCError) -> Response

    /// The payload as a JSON object.
    static var jsonObject: ResponseDecoding<JSONObject> {
        ResponseDecoding<JSONObject>(scan: { _ in nil }, decode: { $0 })
    }

    /// The payload as a message of `user.v1`.
    static func message(_ type: Response.Type) -> ResponseDecoding<Response> where Response: UserV1Message {
        ResponseDecoding(scan: { _ in nil }, decode: { object throws(UserRPCError) in try Response(decoding: object) })
    }

    /// The payload as a `User`, read without a JSON document when it has the server's plain shape.
    static var user: ResponseDecoding<UserV1.User> {
        ResponseDecoding<UserV1.User>(
            scan: { UserV1.User(plainPayload: $0) }, decode: { object throws(UserRPCError) in try UserV1.User(decoding: object) })
    }
}

extension UserV1Message {
    /// Reads a response payload; a mismatch is the server's fault, so INTERNAL.
    init(decoding object: JSONObject) throws(UserRPCError) {
        do {
            try self.init(json: object)
        } catch {
            throw UserRPCError(code: .internal, message: "response does not match \(Self.messageName): \(error)")
        }
    }
}

/// A group as the connection handler holds it: groups of `User` answers (GetUser, RegisterUser) by
/// their concrete type, so that their per-answer code is specialized; any other through the protocol.
enum CallGroupReference: Sendable {
    case users(CallGroup<UserV1.User>)
    case other(any CallGroupMembership)

    func finishOK(_ index: Int, payload: UnsafeRawBufferPointer, parser: JSONParser, answeredAt: ContinuousClock.Instant) -> Bool {
        switch self {
        case .users(let group): group.finishOK(index, payload: payload, parser: parser, answeredAt: answeredAt)
        case .other(let group): group.finishOK(index, payload: payload, parser: parser, answeredAt: answeredAt)
        }
    }

    /// Whether both refer to the same group.
    func isSame(as other: CallGroupReference) -> Bool {
        identity == other.identity
    }

    private var identity: ObjectIdentifier {
        switch self {
        case .users(let group): ObjectIdentifier(group)
        case .other(let group): ObjectIdentifier(group)
        }
    }

    /// Whether every member has its answer.
    var isComplete: Bool {
        switch self {
        case .users(let group): group.isComplete
        case .other(let group): group.isComplete
        }
    }

    func isAnswered(_ index: Int) -> Bool {
        switch self {
        case .users(let group): group.isAnswered(index)
        case .other(let group): group.isAnswered(index)
        }
    }

    func finish(_ index: Int, _ result: Result<ServerFrame, UserRPCError>) {
        switch self {
        case .users(let group): group.finish(index, result)
        case .other(let group): group.finish(index, result)
        }
    }

    /// A group of `count` calls that hands their answers to `completion` (on the event loop) once
    /// every one is answered.
    static func make<Response: Sendable>(
        count: Int, decoding: ResponseDecoding<Response>, completion: @escaping @Sendable ([CallGroup<Response>.Answer]) -> Void
    ) -> CallGroupReference {
        if Response.self == UserV1.User.self {
            // `Response` is `User`: the cast is between identical types.
            let completion = unsafeBitCast(completion, to: (@Sendable ([CallGroup<UserV1.User>.Answer]) -> Void).self)
            return .users(CallGroup(count: count, decoding: .user, completion: completion))
        }
        return .other(CallGroup(count: count, decoding: decoding, completion: completion))
    }
}

/// The answers to calls sent together (``UserRPCClient/callPipelined(_:_:as:options:)``): one task
/// waits for all of them, and each answer's arrival time is kept.
///
/// `@unchecked Sendable`: after creation, only the connection's event loop touches it (the handler
/// finishes its members there), until the last member resumes the waiting task.
final class CallGroup<Response: Sendable>: CallGroupMembership, @unchecked Sendable {
    typealias Answer = UserRPCClient.PipelinedAnswer<Response>

    /// Filled in place as answers arrive, then handed to the waiting task whole. (Only the event
    /// loop touches these, through the methods below, so they skip the runtime's exclusivity checks.)
    @exclusivity(unchecked) private var answers: [Answer]
    @exclusivity(unchecked) private var answered: [Bool]
    @exclusivity(unchecked) private var remaining: Int
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

    func finishOK(_ index: Int, payload: UnsafeRawBufferPointer, parser: JSONParser, answeredAt: ContinuousClock.Instant) -> Bool {
        guard !answered[index] else { return true }
        if let response = decoding.scan(payload) {
            complete(index, .success(consume response), at: answeredAt)
            return true
        }
        guard case .object(let object)? = try? parser.parse(payload) else { return false }
        complete(index, Result { () throws(UserRPCError) in try decoding.decode(object) }, at: answeredAt)
        return true
    }

    func finish(_ index: Int, _ result: Result<ServerFrame, UserRPCError>) {
        guard !answered[index] else { return }
        complete(
            index,
            result.flatMap { frame in
                Result { () throws(UserRPCError) in try decoding.decode(UserRPCClient.payload(of: frame)) }
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

extension UserV1.User {
    /// Reads a `User` payload in the server's plain shape — the four fields, each once, in any order,
    /// as strings of printable ASCII without escapes — or returns `nil` for anything else.
    init?(plainPayload bytes: UnsafeRawBufferPointer) {
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        // The server's own spelling, compared as fixed text; then any order and spacing.
        if let (id, username, email, createdAt) = ResponseFrameScanner.scanCompactStrings(
            bytes, #"{"id":"#, #","username":"#, #","email":"#, #","created_at":"#)
        {
            self.init(id: text(id), username: text(username), email: text(email), createdAt: text(createdAt))
            return
        }
        guard let scanned = ResponseFrameScanner.scanFlatPayload(bytes), scanned.count == 4 else { return nil }
        var id: String?
        var username: String?
        var email: String?
        var createdAt: String?
        for index in 0..<4 {
            let member = scanned[index]
            guard member.isString else { return nil }
            let value = text(member.value)
            if bytes.bytes(in: member.key, equal: "id") {
                id = value
            } else if bytes.bytes(in: member.key, equal: "username") {
                username = value
            } else if bytes.bytes(in: member.key, equal: "email") {
                email = value
            } else if bytes.bytes(in: member.key, equal: "created_at") {
                createdAt = value
            } else {
                return nil
            }
        }
        // The scanner's keys are distinct, so four known keys are the four fields.
        guard let id, let username, let email, let createdAt else { return nil }
        self.init(id: id, username: username, email: email, createdAt: createdAt)
    }
}
