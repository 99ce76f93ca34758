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
/// One client holds one multiplexed TCP connection, opened on the first call and shared by every
/// concurrent caller; when the server closes it (restart, goaway), the next call opens a new one.
/// Every call throws ``UserRPCError``.
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
    /// The server this client calls and the defaults of its calls, as given to ``init(configuration:eventLoopGroup:)``.
    public let configuration: Configuration
    /// The event loop of this client's connection (and of every reconnection).
    private let eventLoop: any EventLoop
    /// Runs tasks on the connection's event loop: a task that prefers it sends calls and receives
    /// their answers without a thread hop. Optional; calls from any task work.
    public let taskExecutor: EventLoopTaskExecutor
    private let state = NIOLockedValueBox(ConnectionState.idle)
    private let nextCallID = Atomic<UInt64>(1)

    private enum ConnectionState {
        case idle
        case connecting(EventLoopFuture<Connection>)
        case ready(Connection)
        case closed
    }

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
    /// one event loop of `eventLoopGroup` (NIO's shared group by default).
    public init(configuration: Configuration = Configuration(), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.eventLoop = eventLoopGroup.next()
        self.taskExecutor = EventLoopTaskExecutor(eventLoop: eventLoop)
    }

    deinit {
        if case .ready(let connection) = state.withLockedValue({ $0 }) {
            connection.channel.close(promise: nil)
        }
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
        await pipelined(method: method.fullName, count: requests.count, decoding: .message(Response.self), options: options) {
            encoder, id, index, frames in
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
        let fullName = try Self.fullMethodName(method)
        var writer = JSONWriter()
        writer.value(.object(payload))
        let bytes = writer.bytes
        let answers = await pipelined(method: fullName, count: 1, decoding: .jsonObject, options: options) { encoder, id, _, frames in
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
        do {
            fullName = try Self.fullMethodName(method)
        } catch {
            return payloads.map { _ in PipelinedAnswer(result: .failure(error), answeredAt: .now) }
        }
        let encoded: [[UInt8]] = payloads.map { payload in
            var writer = JSONWriter()
            writer.value(.object(payload))
            return writer.bytes
        }
        return await pipelined(method: fullName, count: encoded.count, decoding: .jsonObject, options: options) { encoder, id, index, frames in
            encoded[index].withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &frames) }
        }
    }

    /// The schemas of the services this build has types for, in the order short method names are
    /// looked up.
    public static let knownServices: [ServiceSchema] = [
        UserServiceV1.schema, UserServiceV2.schema, HealthServiceV1.schema, ReflectionServiceV1.schema,
    ]

    /// `name` as a full method name: as it is when it has a `/`, else the first known method of that
    /// short name.
    static func fullMethodName(_ name: String) throws(UserRPCError) -> String {
        if name.contains("/") { return name }
        for schema in knownServices {
            if let method = schema.method(named: name) { return method.fullName }
        }
        let known = knownServices.flatMap { $0.methods.map(\.name) }.joined(separator: ", ")
        throw UserRPCError(
            code: .invalidArgument, message: "unknown method '\(name)': give a full name (package.Service/Method) or one of \(known)")
    }

    /// Sends `count` calls in one write (`writeFrame` encodes call `index` with its `id`, on the
    /// connection's event loop) and gathers their answers.
    private nonisolated(nonsending) func pipelined<Response: Sendable>(
        method: String, count: Int, decoding: ResponseDecoding<Response>, options: CallOptions,
        writeFrame: @escaping @Sendable (RequestFrameEncoder, _ id: UInt64, _ index: Int, inout ByteBuffer) -> Void
    ) async -> [PipelinedAnswer<Response>] {
        guard count > 0 else { return [] }
        func allFailing(_ error: UserRPCError) -> [PipelinedAnswer<Response>] {
            (0..<count).map { _ in PipelinedAnswer(result: .failure(error), answeredAt: .now) }
        }
        if Task.isCancelled { return allFailing(UserRPCError(code: .cancelled, message: "call cancelled")) }
        let connection: Connection
        do {
            connection = try await self.connection()
        } catch {
            return allFailing(error)
        }
        let timeout = options.timeout ?? configuration.defaultTimeout
        let firstID = nextCallID.wrappingAdd(UInt64(count), ordering: .relaxed).oldValue
        let encoder = requestEncoder(method: method, options: options)
        let progress = CallProgress<any CallGroupMembership>()
        return await withTaskCancellationHandler {
            await withCallContinuation { (continuation: CallContinuation<[PipelinedAnswer<Response>]>) in
                let group = CallGroup(count: count, decoding: decoding) { continuation.resume(returning: $0) }
                let started = progress.start(group) {
                    connection.withHandler { handler in
                        handler.start(firstID: firstID, count: count, timeout: timeout, group: group) { frames in
                            for index in 0..<count { writeFrame(encoder, firstID &+ UInt64(index), index, &frames) }
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
    }

    /// Sends a ping and waits for the pong.
    public nonisolated(nonsending) func ping(timeout: Duration? = nil) async throws(UserRPCError) {
        let id = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = ByteBufferAllocator().buffer(capacity: 48)
        ClientFrame.writeControl("ping", id: id, into: &frame)
        _ = try await exchange(id: id, frame: frame, timeout: timeout ?? configuration.defaultTimeout)
    }

    /// Closes the connection; calls in flight fail with UNAVAILABLE. Later calls throw UNAVAILABLE.
    public func close() async {
        let previous = state.withLockedValue { state in
            defer { state = .closed }
            return state
        }
        switch previous {
        case .ready(let connection): try? await connection.channel.close()
        case .connecting(let future): try? await future.get().channel.close()
        case .idle, .closed: break
        }
    }

    // MARK: Internals

    /// The encoder of a method's request frames: the call's deadline (the option, or the configured
    /// default) and metadata (the configured, overridden by the option's).
    private func requestEncoder(method: String, options: CallOptions) -> RequestFrameEncoder {
        let timeout = options.timeout ?? configuration.defaultTimeout
        var metadata = configuration.metadata
        if !options.metadata.isEmpty { metadata.merge(options.metadata) { _, new in new } }
        return RequestFrameEncoder(method: method, timeoutMilliseconds: timeout?.wholeMillisecondsRoundedUp, metadata: metadata)
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

    private nonisolated(nonsending) func connection() async throws(UserRPCError) -> Connection {
        enum Step {
            case use(Connection)
            case wait(EventLoopFuture<Connection>)
            case closed
        }
        let step: Step = state.withLockedValue { state in
            if case .ready(let connection) = state, !connection.channel.isActive { state = .idle }
            switch state {
            case .ready(let connection): return .use(connection)
            case .connecting(let future): return .wait(future)
            case .closed: return .closed
            case .idle:
                let future = connect()
                state = .connecting(future)
                return .wait(future)
            }
        }
        switch step {
        case .use(let connection):
            return connection
        case .closed:
            throw UserRPCError(code: .unavailable, message: "client is closed")
        case .wait(let future):
            do {
                let connection = try await future.get()
                state.withLockedValue { state in
                    if case .connecting(let pending) = state, pending === future { state = .ready(connection) }
                }
                return connection
            } catch {
                state.withLockedValue { state in
                    if case .connecting(let pending) = state, pending === future { state = .idle }
                }
                throw UserRPCError(
                    code: .unavailable,
                    message: "cannot connect to \(configuration.host):\(configuration.port): \(ConnectionErrorText.connectFailure(error))")
            }
        }
    }

    private func connect() -> EventLoopFuture<Connection> {
        let maxFrameBytes = configuration.maxFrameBytes
        let keepalive = configuration.keepalive
        let eventLoop = self.eventLoop
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try configuration.tls.map(Self.makeTLSContext)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let hostname = configuration.tls?.serverHostname ?? (Self.isIPAddress(configuration.host) ? nil : configuration.host)
        return ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let key = ObjectIdentifier(channel)
                    let handler = ClientChannelHandler(
                        allocator: channel.allocator, maxFrameBytes: maxFrameBytes, keepalive: keepalive
                    ) { [weak self] in
                        self?.retire(channelID: key)
                    }
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
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

    /// The connection with this channel takes no more calls: the next call opens a new one.
    private func retire(channelID: ObjectIdentifier) {
        state.withLockedValue { state in
            if case .ready(let connection) = state, ObjectIdentifier(connection.channel) == channelID { state = .idle }
        }
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
