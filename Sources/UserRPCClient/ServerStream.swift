import NIOConcurrencyHelpers
import NIOCore
import StrictJSON
import UserRPCWire

extension UserRPCClient {
    /// Calls the server-streaming `method` with `request`: its messages, as an `AsyncSequence` that
    /// sends the call when iteration begins.
    ///
    /// ```swift
    /// for try await status in client.stream(HealthServiceV1.watch, HealthCheckRequest()) { print(status.status) }
    /// ```
    /// The server sends at most `window` messages ahead of the loop: the client grants more as the
    /// loop takes them, so a loop that stops taking stops its stream (and only it). Leaving the loop,
    /// or cancelling its task, cancels the call. The stream's deadline is `options.timeout`, or none
    /// (the client's default timeout is for unary calls). Its end is the loop's end, or the error it
    /// throws: the call's status, or UNAVAILABLE when the connection is lost.
    public func stream<Request, Response>(
        _ method: ServerStreamingMethodDescriptor<Request, Response>, _ request: Request, options: CallOptions = CallOptions(),
        window: UInt64 = 256
    ) -> ServerStream<Response> {
        makeStream(method: method.fullName, options: options, window: window) {
            try Response.decode(json: $0, unknownFields: .ignore)
        } writeFrame: {
            encoder, id, frame in
            encoder.writeFrame(id: id, message: request, into: &frame)
        }
    }

    /// Calls the server-streaming method `method` (a full name, or a short one this build knows) with
    /// a request given as a JSON object: its messages as JSON objects, for tools that read a schema
    /// at run time (as the CLI does). Otherwise as ``stream(_:_:options:window:)``.
    public func stream(method: String, payload: JSONObject, options: CallOptions = CallOptions(), window: UInt64 = 256) throws(UserRPCError)
        -> ServerStream<JSONObject>
    {
        let (fullName, _) = try Self.knownMethod(method)
        var writer = JSONWriter()
        writer.value(.object(payload))
        let bytes = writer.bytes
        return makeStream(method: fullName, options: options, window: window) {
            $0
        } writeFrame: { encoder, id, frame in
            bytes.withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &frame) }
        }
    }

    /// A stream of `method`'s messages, each read by `decode`; its request frame is written by
    /// `writeFrame` (with the encoder of this method, options and window) when iteration begins.
    private func makeStream<Element: Sendable>(
        method: String, options: CallOptions, window: UInt64, decode: @escaping @Sendable (JSONObject) throws -> Element,
        writeFrame: @escaping @Sendable (RequestFrameEncoder, UInt64, inout ByteBuffer) -> Void
    ) -> ServerStream<Element> {
        let window = max(1, min(window, ClientFrame.maxCredit))
        let encoder = RequestFrameEncoder(
            method: method, timeoutMilliseconds: options.timeout?.wholeMillisecondsRoundedUp, metadata: callMetadata(options), window: window)
        return ServerStream(window: window, decode: decode) { [self] stream throws(UserRPCError) in
            try await open(stream) { id, frame in writeFrame(encoder, id, &frame) }
        }
    }

    /// Sends the request of `stream` (its frame written by `writeFrame` for the call's id) on the
    /// next connection in rotation.
    private nonisolated(nonsending) func open(
        _ stream: ClientStream, writeFrame: (UInt64, inout ByteBuffer) -> Void
    ) async throws(UserRPCError) {
        if Task.isCancelled { throw UserRPCError(code: .cancelled, message: "call cancelled") }
        let connection = try await connection()
        let id = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = ByteBufferAllocator().buffer(capacity: 256)
        writeFrame(id, &frame)
        stream.opened(connection: connection, id: id)
        connection.withHandler { [frame] in $0.startStream(id: id, frame: frame, stream: stream) }
    }

    /// The messages of one server-streaming call (``UserRPCClient/stream(_:_:options:window:)``),
    /// read as they arrive; iterate it once.
    public struct ServerStream<Element: Sendable>: AsyncSequence, Sendable {
        public typealias Failure = UserRPCError

        let window: UInt64
        let decode: @Sendable (JSONObject) throws -> Element
        let open: @Sendable (ClientStream) async throws(UserRPCError) -> Void

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(owner: ClientStream.Owner(ClientStream(window: window)), decode: decode, open: open)
        }

        /// Takes the stream's messages one by one.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Failure = UserRPCError

            let owner: ClientStream.Owner
            let decode: @Sendable (JSONObject) throws -> Element
            let open: @Sendable (ClientStream) async throws(UserRPCError) -> Void
            var call: ClientStream { owner.stream }

            /// The next message; `nil` once the stream ended OK (and after it ended at all).
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(UserRPCError) -> Element? {
                // A cancelled task ends the call even while messages are waiting to be taken.
                if Task.isCancelled, call.isRunning {
                    call.cancel()
                    throw UserRPCError(code: .cancelled, message: "call cancelled")
                }
                if call.needsOpening() {
                    do throws(UserRPCError) {
                        try await open(call)
                    } catch {
                        call.finish(.failure(error))
                    }
                }
                guard let payload = try await call.nextPayload() else { return nil }
                do {
                    return try decode(payload)
                } catch {
                    call.cancel()
                    throw UserRPCError(code: .internal, message: "a message of the stream cannot be read: \(error)")
                }
            }

            public mutating func next() async throws(UserRPCError) -> Element? {
                try await next(isolation: nil)
            }
        }
    }
}

/// One server-streaming call on the client: the messages its connection received and the loop has
/// not taken yet (at most the window it granted), and how the call ended. Thread-safe: the
/// connection's event loop adds, the iterating task takes.
final class ClientStream: Sendable {
    private struct State {
        var opening = false
        var connection: UserRPCClient.Connection?
        var id: UInt64 = 0
        var received: [JSONObject] = []
        var taken = 0
        /// Messages taken since credit was last granted.
        var takenSinceCredit: UInt64 = 0
        /// How the call ended (`.success` OK); `nil` while it runs.
        var end: Result<Void, UserRPCError>?
        /// The end has been handed to the loop: from then on, `nil`.
        var endDelivered = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())
    let window: UInt64

    init(window: UInt64) {
        self.window = window
    }

    /// Held by the iterator alone (the connection holds the stream too): when the loop lets go of
    /// the iterator before the end, the call is cancelled.
    final class Owner: Sendable {
        let stream: ClientStream

        init(_ stream: ClientStream) {
            self.stream = stream
        }

        deinit {
            if stream.isRunning { stream.cancel() }
        }
    }

    var isRunning: Bool { state.withLockedValue { $0.end == nil } }

    /// Whether the call still has to be sent (the first `next`).
    func needsOpening() -> Bool {
        state.withLockedValue { state in
            defer { state.opening = true }
            return !state.opening
        }
    }

    func opened(connection: UserRPCClient.Connection, id: UInt64) {
        state.withLockedValue { state in
            state.connection = connection
            state.id = id
        }
    }

    /// The next message's payload, waiting for it; `nil` at the end.
    func nextPayload() async throws(UserRPCError) -> JSONObject? {
        while true {
            enum Step {
                case message(JSONObject, credit: UInt64?)
                case end(Result<Void, UserRPCError>)
                case finished
                case wait
            }
            let window = self.window
            let step = state.withLockedValue { state -> Step in
                if state.taken < state.received.count {
                    let payload = state.received[state.taken]
                    state.taken += 1
                    if state.taken > 64 && state.taken * 2 > state.received.count {
                        state.received.removeFirst(state.taken)
                        state.taken = 0
                    }
                    state.takenSinceCredit += 1
                    // Credit goes back in halves of the window: one frame per many messages.
                    guard state.end == nil, state.takenSinceCredit * 2 >= window else { return .message(payload, credit: nil) }
                    defer { state.takenSinceCredit = 0 }
                    return .message(payload, credit: state.takenSinceCredit)
                }
                if state.endDelivered { return .finished }
                if let end = state.end {
                    state.endDelivered = true
                    return .end(end)
                }
                return .wait
            }
            switch step {
            case .message(let payload, let credit):
                if let credit { grant(credit) }
                return payload
            case .end(let end):
                try end.get()
                return nil
            case .finished:
                return nil
            case .wait:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                        let ready = state.withLockedValue { state in
                            guard state.taken == state.received.count, state.end == nil else { return true }
                            state.waiter = waiter
                            return false
                        }
                        if ready { waiter.resume() }
                    }
                } onCancel: {
                    self.cancel()
                }
            }
        }
    }

    private func grant(_ add: UInt64) {
        let (connection, id) = state.withLockedValue { ($0.connection, $0.id) }
        connection?.withHandler { $0.grantCredit(id: id, add: add) }
    }

    /// The loop's task was cancelled, or the loop cannot read a message: the call ends CANCELLED here
    /// and the server is told.
    func cancel() {
        let (connection, id) = state.withLockedValue { ($0.connection, $0.id) }
        finish(.failure(UserRPCError(code: .cancelled, message: "call cancelled")))
        connection?.withHandler { $0.cancelStream(id: id) }
    }

    /// A message arrived (on the connection's event loop). One beyond the credit this client
    /// granted ends the call: the server broke the protocol, and the client keeps no more than its
    /// window.
    func receive(_ payload: JSONObject) {
        let overrun = state.withLockedValue { state -> Bool in
            guard state.end == nil else { return false }
            return UInt64(state.received.count - state.taken) >= window
        }
        if overrun {
            finish(.failure(UserRPCError(code: .internal, message: "the server sent more messages than the client granted")))
            cancel()
            return
        }
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard state.end == nil else { return nil }
            state.received.append(payload)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The call ended: OK, or with this error. The first end counts.
    func finish(_ end: Result<Void, UserRPCError>) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
