import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import StrictJSON
import Synchronization
import UserRPCWire
import UserV1
import UserV2

/// A client of wire protocol v1 (`docs/PROTOCOL.md`): calls any method of any service the server
/// hosts, typed by its ``MethodDescriptor``, with the user service's methods as named conveniences
/// (``registerUser(username:email:options:)``, ``getUser(id:options:)``, …).
///
/// One client holds one multiplexed TCP connection per server (``Configuration/endpoints``), opened
/// on the first call and shared by every concurrent caller; when the server closes it (restart,
/// goaway), the next call opens a new one. With several servers, calls go round robin to those in
/// rotation. Calls that are safe to repeat are retried when they fail UNAVAILABLE
/// (``Configuration/retry``). Every call throws ``UserRPCError``.
///
/// The connection lives on one event loop of the group, chosen when the client is made. Callers
/// that make many calls can run on that loop (``taskExecutor``), which saves two thread hops a call.
///
/// ```swift
/// let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: 50051))
/// let ada = try await client.registerUser(username: "ada", email: "ada@example.com")
/// let same = try await client.call(UserServiceV1.getUser, GetUserRequest(id: ada.id))
/// await client.close()
/// ```
public final class UserRPCClient: Sendable {
    /// The server this client calls and the defaults of its calls, as given to ``init(configuration:eventLoopGroup:logger:)``.
    public let configuration: Configuration
    /// Where the client says what happens to its connections (connected, a server out of rotation,
    /// a `goaway`) and to its resuming streams: given at `init`, silent by default.
    public let logger: Logger
    /// The event loop of this client's connection (and of every reconnection).
    private let eventLoop: any EventLoop
    /// Runs tasks on the connection's event loop: a task that prefers it sends calls and receives
    /// their answers without a thread hop. Optional; calls from any task work.
    public let taskExecutor: EventLoopTaskExecutor
    private let subchannels: [Subchannel]
    /// Round robin over ``subchannels``.
    private let nextSubchannel = Atomic<Int>(0)
    private let retryBudget: RetryBudget?
    let nextCallID = Atomic<UInt64>(1)

    struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ClientChannelHandler>

        /// Runs `body` with the handler on the connection's event loop: at once when already there
        /// (a caller on ``UserRPCClient/taskExecutor``), otherwise by a hop.
        func withHandler(_ body: @escaping @Sendable (ClientChannelHandler) -> Void) {
            let handler = self.handler
            let eventLoop = channel.eventLoop
            if eventLoop.inEventLoop {
                body(handler.value)
            } else {
                eventLoop.execute { body(handler.value) }
            }
        }
    }

    /// A client of the server `configuration` names; it connects on its first call. Its connection runs on
    /// one event loop of `eventLoopGroup` (NIO's shared group by default). What happens to its
    /// connections is logged to `logger` (as postgres-nio and async-http-client take one): `debug`
    /// for a connection made or closed, `info` for a `goaway` and a stream resumed, `warning` for a
    /// server that cannot be reached. By default nothing is logged.
    public init(
        configuration: Configuration = Configuration(), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "user-rpc-client", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        precondition(!configuration.endpoints.isEmpty, "a client needs at least one endpoint")
        self.configuration = configuration
        self.logger = logger
        self.eventLoop = eventLoopGroup.next()
        self.taskExecutor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.subchannels = configuration.endpoints.map { endpoint in
            var logger = logger
            logger[metadataKey: "server"] = "\(endpoint)"
            return Subchannel(endpoint: endpoint, backoff: configuration.reconnectBackoff, logger: logger)
        }
        self.retryBudget = configuration.retry.map { RetryBudget(maximum: $0.budgetTokens, refill: $0.budgetRefill) }
    }

    deinit {
        for subchannel in subchannels { subchannel.closeNow() }
    }

    // MARK: Calls

    /// Calls `method` with `request` and returns its response.
    ///
    /// ```swift
    /// let user = try await client.call(UserServiceV1.getUser, GetUserRequest(id: id))
    /// ```
    /// The response is read tolerantly: fields this build does not know (a newer server's) are skipped.
    public nonisolated(nonsending) func call<Request, Response>(
        _ method: MethodDescriptor<Request, Response>, _ request: Request, options: CallOptions = CallOptions()
    ) async throws(UserRPCError) -> Response {
        // A group of one: the answer is read as it arrives, a plain message straight from its bytes.
        let answers = await callPipelined(method, [request], options: options)
        return try answers[0].result.get()
    }

    /// Calls `method` with `request` and returns its response with the response's metadata (the
    /// server's `x-request-id`, anything its interceptors add), as grpc-swift's responses carry theirs.
    ///
    /// ```swift
    /// let answer = try await client.callWithMetadata(UserServiceV2.getUser, UserServiceV2.GetUserRequest(id: id))
    /// print(answer.message.username, answer.metadata["x-request-id"] ?? "")
    /// ```
    /// Otherwise as ``call(_:_:options:)`` (retries included: the metadata is the answered call's).
    public nonisolated(nonsending) func callWithMetadata<Request, Response>(
        _ method: MethodDescriptor<Request, Response>, _ request: Request, options: CallOptions = CallOptions()
    ) async throws(UserRPCError) -> UserRPCClient.Response<Response> {
        let answers = await pipelined(
            method: method.fullName, idempotency: method.idempotency, count: 1,
            decoding: .messageWithMetadata(Response.self), options: options
        ) { encoder, id, _, frames in
            encoder.writeFrame(id: id, message: request, into: &frames)
        }
        return try answers[0].result.get()
    }

    /// A response message and the metadata of its answer (``callWithMetadata(_:_:options:)``).
    public struct Response<Message: Sendable>: Sendable {
        /// The response message.
        public var message: Message
        /// The answer's metadata: `x-request-id` always, and what the server's interceptors added.
        public var metadata: [String: String]

        /// A response with this message and metadata.
        public init(message: Message, metadata: [String: String]) {
            self.message = message
            self.metadata = metadata
        }
    }

    /// One answer of ``callPipelined(_:_:options:)``.
    public struct PipelinedAnswer<Response: Sendable>: Sendable {
        /// The response, or the call's error.
        public var result: Result<Response, UserRPCError>
        /// When the answer arrived (was read from the connection), for measuring each call's latency.
        public var answeredAt: ContinuousClock.Instant

        /// The call's error, or `nil` when it succeeded.
        @inlinable public var error: UserRPCError? {
            if case .failure(let error) = result { return error }
            return nil
        }
    }

    /// Sends several calls of one method in one write and waits until all are answered: the cheapest
    /// way to make many calls, since the calling task is resumed once for all of them, and each
    /// response is read as it arrives. Each call keeps its own id, deadline (`options.timeout`),
    /// cancellation and result; the answers come in the order of `requests`.
    ///
    /// ```swift
    /// let answers = await client.callPipelined(UserServiceV1.getUser, ids.map { GetUserRequest(id: $0) })
    /// ```
    public nonisolated(nonsending) func callPipelined<Request, Response>(
        _ method: MethodDescriptor<Request, Response>, _ requests: [Request], options: CallOptions = CallOptions()
    ) async -> [PipelinedAnswer<Response>] {
        await pipelined(
            method: method.fullName, idempotency: method.idempotency, count: requests.count, decoding: .message(Response.self), options: options
        ) { encoder, id, index, frames in
            encoder.writeFrame(id: id, message: requests[index], into: &frames)
        }
    }

    /// Calls any method by name with a JSON payload, and returns the response payload: for tools
    /// (the CLI) and for methods this build has no types for.
    ///
    /// `method` is a full name (`user.v1.UserService/SearchUsers`), or a short one (`SearchUsers`)
    /// that names a method of a service this build knows (``knownServices``, first match).
    public nonisolated(nonsending) func call(method: String, payload: JSONObject, options: CallOptions = CallOptions()) async throws(UserRPCError)
        -> JSONObject
    {
        let (fullName, idempotency) = try Self.knownMethod(method)
        var writer = JSONWriter()
        writer.value(.object(payload))
        let bytes = writer.bytes
        let answers = await pipelined(
            method: fullName, idempotency: idempotency, count: 1, decoding: .jsonObject, options: options
        ) { encoder, id, _, frames in
            bytes.withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &frames) }
        }
        return try answers[0].result.get()
    }

    /// Like ``call(method:payload:options:)`` for several calls of one method sent in one write:
    /// the answers are the response payloads, in the order of `payloads`.
    public nonisolated(nonsending) func callPipelined(method: String, payloads: [JSONObject], options: CallOptions = CallOptions()) async
        -> [PipelinedAnswer<JSONObject>]
    {
        let fullName: String
        let idempotency: ServiceSchema.Idempotency
        do {
            (fullName, idempotency) = try Self.knownMethod(method)
        } catch {
            return payloads.map { _ in PipelinedAnswer(result: .failure(error), answeredAt: .now) }
        }
        let encoded: [[UInt8]] = payloads.map { payload in
            var writer = JSONWriter()
            writer.value(.object(payload))
            return writer.bytes
        }
        return await pipelined(
            method: fullName, idempotency: idempotency, count: encoded.count, decoding: .jsonObject, options: options
        ) { encoder, id, index, frames in
            encoded[index].withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &frames) }
        }
    }

    /// The schemas of the services this build has types for, in the order short method names are
    /// looked up.
    public static let knownServices: [ServiceSchema] = [
        UserServiceV1.schema, UserServiceV2.schema, HealthServiceV1.schema, ReflectionServiceV1.schema,
    ]

    /// `name` as a full method name, with its idempotency level: a full name (with a `/`) as it is,
    /// a short one as the first known method of that name; the level from the known method's schema,
    /// none for a method this build does not know.
    static func knownMethod(_ name: String) throws(UserRPCError) -> (fullName: String, idempotency: ServiceSchema.Idempotency) {
        for schema in knownServices {
            if let method = schema.method(named: name) { return (method.fullName, method.idempotency) }
        }
        if name.contains("/") { return (name, .unknown) }
        let known = knownServices.flatMap { $0.methods.map(\.name) }.joined(separator: ", ")
        throw UserRPCError(
            code: .invalidArgument, message: "unknown method '\(name)': give a full name (package.Service/Method) or one of \(known)")
    }

    /// Sends `count` calls in one write (`writeFrame` encodes call `index` with its `id`, on the
    /// connection's event loop) and gathers their answers; those that failed UNAVAILABLE are sent
    /// again, together, while the retry policy, the budget and their deadline allow and the method
    /// (with this call's metadata) is safe to repeat.
    private nonisolated(nonsending) func pipelined<Response: Sendable>(
        method: String, idempotency: ServiceSchema.Idempotency, count: Int, decoding: ResponseDecoding<Response>, options: CallOptions,
        writeFrame: @escaping @Sendable (RequestFrameEncoder, _ id: UInt64, _ index: Int, inout ByteBuffer) -> Void
    ) async -> [PipelinedAnswer<Response>] {
        guard count > 0 else { return [] }
        let timeout = options.timeout ?? configuration.defaultTimeout
        let metadata = callMetadata(options)
        // The deadline counts from here: retries get what is left of it.
        let started: ContinuousClock.Instant? = timeout != nil && configuration.retry != nil ? .now : nil
        var (answers, sent) = await send(
            method: method, indices: Array(0..<count), timeout: timeout, metadata: metadata, decoding: decoding, writeFrame: writeFrame)
        guard let policy = configuration.retry, let retryBudget else { return answers }
        // A call that was never sent (no connection could be made) is retried whatever its method,
        // as gRPC's transparent retries; one that was sent, only when it is safe to repeat.
        let repeatable = idempotency.allowsRetry(metadata: metadata)
        guard repeatable || !sent else { return answers }
        if sent, !answers.contains(where: { $0.error?.code == .unavailable }) {
            // The common case: all answered. (The budget is usually full: one atomic load.)
            retryBudget.recordSuccesses(count)
            return answers
        }
        var attempt = 1
        var retrying = Array(0..<count)
        while true {
            // Calls that were not sent cost the budget nothing (a server out of reach is the
            // rotation's business), and do not need it.
            if sent {
                for index in retrying {
                    if answers[index].error?.code == .unavailable { retryBudget.recordFailure() } else { retryBudget.recordSuccesses(1) }
                }
            }
            guard repeatable || !sent else { return answers }
            let failed = retrying.filter { answers[$0].error?.code == .unavailable }
            guard !failed.isEmpty, attempt < policy.maxAttempts, !sent || retryBudget.allowsRetry, !Task.isCancelled else { return answers }
            let delay = policy.delay(afterAttempt: attempt, random: Double.random(in: 0..<1))
            let elapsed = started.map { ContinuousClock.now - $0 } ?? .zero
            guard let remaining = Self.retryTimeout(timeout: timeout, elapsed: elapsed, delay: delay) else {
                return answers
            }
            guard (try? await Task.sleep(for: delay)) != nil else { return answers }
            let retried: [PipelinedAnswer<Response>]
            (retried, sent) = await send(
                method: method, indices: failed, timeout: remaining, metadata: metadata, decoding: decoding, writeFrame: writeFrame)
            for (position, index) in failed.enumerated() { answers[index] = retried[position] }
            retrying = failed
            attempt += 1
        }
    }

    /// The timeout of a retry made after `delay`, for a call with `timeout` that began `elapsed`
    /// ago: what is left of the deadline then (`.some(nil)` without a deadline), or `nil` when less
    /// than a millisecond would be left, so there is no retry.
    static func retryTimeout(timeout: Duration?, elapsed: Duration, delay: Duration) -> Duration?? {
        guard let timeout else { return .some(nil) }
        let left = timeout - elapsed - delay
        return left > .milliseconds(1) ? .some(left) : nil
    }

    /// One attempt of the calls at `indices`: sent in one write on the next connection in rotation.
    /// `sent` is false when they could not be sent at all (no connection).
    private nonisolated(nonsending) func send<Response: Sendable>(
        method: String, indices: [Int], timeout: Duration?, metadata: [String: String], decoding: ResponseDecoding<Response>,
        writeFrame: @escaping @Sendable (RequestFrameEncoder, _ id: UInt64, _ index: Int, inout ByteBuffer) -> Void
    ) async -> (answers: [PipelinedAnswer<Response>], sent: Bool) {
        let count = indices.count
        func allFailing(_ error: UserRPCError) -> [PipelinedAnswer<Response>] {
            (0..<count).map { _ in PipelinedAnswer(result: .failure(error), answeredAt: .now) }
        }
        if Task.isCancelled { return (allFailing(UserRPCError(code: .cancelled, message: "call cancelled")), true) }
        let connection: Connection
        do {
            connection = try await self.connection()
        } catch {
            return (allFailing(error), false)
        }
        let firstID = nextCallID.wrappingAdd(UInt64(count), ordering: .relaxed).oldValue
        let encoder = RequestFrameEncoder(method: method, timeoutMilliseconds: timeout?.wholeMillisecondsRoundedUp, metadata: metadata)
        let progress = CallProgress<any CallGroupMembership>()
        let answers = await withTaskCancellationHandler {
            await withCallContinuation { (continuation: CallContinuation<[PipelinedAnswer<Response>]>) in
                let group = CallGroup(count: count, decoding: decoding) { continuation.resume(returning: $0) }
                let started = progress.start(group) {
                    connection.withHandler { handler in
                        handler.start(firstID: firstID, count: count, timeout: timeout, group: group) { frames in
                            for position in 0..<count { writeFrame(encoder, firstID &+ UInt64(position), indices[position], &frames) }
                        }
                    }
                }
                if !started {
                    // Never sent: no other thread knows the group.
                    for index in 0..<count { group.finish(index, .failure(UserRPCError(code: .cancelled, message: "call cancelled"))) }
                }
            }
        } onCancel: {
            progress.cancel { group in
                connection.withHandler { $0.cancel(group: group) }
            }
        }
        return (answers, true)
    }

    /// Sends a ping and waits for the pong.
    public nonisolated(nonsending) func ping(timeout: Duration? = nil) async throws(UserRPCError) {
        let id = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = ByteBufferAllocator().buffer(capacity: 48)
        ClientFrame.writeControl("ping", id: id, into: &frame)
        _ = try await exchange(id: id, frame: frame, timeout: timeout ?? configuration.defaultTimeout)
    }

    /// Closes the connections; calls in flight fail with UNAVAILABLE. Later calls throw UNAVAILABLE.
    public func close() async {
        for subchannel in subchannels { await subchannel.close() }
    }

    // MARK: Internals

    /// A call's metadata: the configured, overridden by the option's.
    func callMetadata(_ options: CallOptions) -> [String: String] {
        guard !options.metadata.isEmpty else { return configuration.metadata }
        return configuration.metadata.merging(options.metadata) { _, new in new }
    }

    /// The payload of an OK response, or the call's error.
    static func payload(of frame: ServerFrame) throws(UserRPCError) -> JSONObject {
        guard case .response(let response) = frame else {
            throw UserRPCError(code: .internal, message: "server answered a call with a non-response frame")
        }
        guard response.status.code == .ok else { throw UserRPCError(response.status) }
        return response.payload ?? JSONObject()
    }

    /// Sends `frame` (length prefix and body) and waits for the frame answering `id`.
    private nonisolated(nonsending) func exchange(id: UInt64, frame: ByteBuffer, timeout: Duration?) async throws(UserRPCError) -> ServerFrame {
        if Task.isCancelled { throw UserRPCError(code: .cancelled, message: "call cancelled") }
        let connection = try await connection()
        let progress = CallProgress<Void>()
        let result = await withTaskCancellationHandler {
            await withCallContinuation { (completion: ClientChannelHandler.Completion) in
                let started = progress.start(()) {
                    connection.withHandler { $0.start(id: id, frame: frame, timeout: timeout, completion: completion) }
                }
                if !started {
                    completion.resume(returning: .failure(UserRPCError(code: .cancelled, message: "call cancelled")))
                }
            }
        } onCancel: {
            progress.cancel { _ in
                connection.withHandler { $0.cancel(id: id) }
            }
        }
        return try result.get()
    }

    /// A connection to the next server in rotation (round robin); when none is, to the one that
    /// comes back first.
    nonisolated(nonsending) func connection() async throws(UserRPCError) -> Connection {
        let subchannel: Subchannel
        if subchannels.count == 1 {
            subchannel = subchannels[0]
        } else {
            let start = nextSubchannel.wrappingAdd(1, ordering: .relaxed).oldValue
            let now = NIODeadline.now()
            var soonest: (Subchannel, NIODeadline)?
            var chosen: Subchannel?
            for offset in 0..<subchannels.count {
                let candidate = subchannels[(start &+ offset) % subchannels.count]
                guard let until = candidate.ejectedUntil(now: now) else {
                    chosen = candidate
                    break
                }
                if soonest == nil || until < soonest!.1 { soonest = (candidate, until) }
            }
            subchannel = chosen ?? soonest!.0
        }
        return try await subchannel.connection { [self] in connect(subchannel) }
    }

    private func connect(_ subchannel: Subchannel) -> EventLoopFuture<Connection> {
        let endpoint = subchannel.endpoint
        let maxFrameBytes = configuration.maxFrameBytes
        let keepalive = configuration.keepalive
        let eventLoop = self.eventLoop
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try configuration.tls.map(Self.makeTLSContext)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let hostname = configuration.tls?.serverHostname ?? (Self.isIPAddress(endpoint.host) ? nil : endpoint.host)
        return ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let key = ObjectIdentifier(channel)
                    let handler = ClientChannelHandler(
                        allocator: channel.allocator, maxFrameBytes: maxFrameBytes, keepalive: keepalive
                    ) { [weak subchannel] reason in
                        subchannel?.retire(channelID: key, reason: reason)
                    }
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMap { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try channel.pipeline.syncOperations.handler(type: ClientChannelHandler.self)
                    return Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
    }

    static func makeTLSContext(_ settings: TLS) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let ca = settings.trustedCAPath { tls.trustRoots = .file(ca) }
        if let certificate = settings.certificatePath, let key = settings.privateKeyPath {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return try NIOSSLContext(configuration: tls)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Orders a call's start and its cancellation, which race from different threads; keeps what the
/// cancellation needs to reach a started call (`Started`: its group, for calls sent together).
private final class CallProgress<Started: Sendable>: Sendable {
    private enum Phase {
        case notStarted
        case started(Started)
        case cancelled
    }
    private let phase = NIOLockedValueBox(Phase.notStarted)

    /// Runs `send` unless the call was already cancelled; returns whether it ran.
    func start(_ started: Started, _ send: () -> Void) -> Bool {
        phase.withLockedValue { phase in
            guard case .notStarted = phase else { return false }
            send()
            phase = .started(started)
            return true
        }
    }

    /// Marks the call cancelled; runs `cancelSent` when the call had already been sent.
    func cancel(_ cancelSent: (Started) -> Void) {
        phase.withLockedValue { phase in
            if case .started(let started) = phase { cancelSent(started) }
            phase = .cancelled
        }
    }
}
