import Dispatch
import Logging
import NIOCore
import StrictJSON
import UserCore
import UserRPCWire

/// Sent through a connection's pipeline when the server starts a graceful shutdown.
struct DrainConnectionEvent: Sendable {}
/// Sent when the grace period is over: calls still running are answered UNAVAILABLE, then the connection closes.
struct ForceCloseConnectionEvent: Sendable {}

/// Serves one connection: splits the byte stream into frames, runs calls, writes responses in
/// completion order.
///
/// Calls that cannot block are answered inline while the read is processed; their responses are
/// collected in one output buffer and written with a single flush per read batch. Calls that can
/// block run in a task each and are tracked in `inFlight` until they finish, are cancelled, or
/// pass their deadline; exactly one response goes out per call.
///
/// Limits enforced here: frame size (checked on the length prefix), calls in flight, the read
/// timeout of a partly received frame, the idle timeout, and write backpressure (reading stops while
/// the client does not read its responses; the connection closes if that lasts too long).
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlightCall {
        let method: String
        /// Stops the call's work: cancels its task, or its blocking work's `CallCancellation`.
        let stopWork: @Sendable () -> Void
        /// When the call is answered DEADLINE_EXCEEDED if it is still running.
        let deadline: NIODeadline
    }

    private let service: UserServiceV1Handler
    private let configuration: UserRPCServerConfiguration
    private let authenticator: BearerTokenAuthenticator
    private let frames: FrameDecoder
    private var logger: Logger
    private let parser = JSONParser()
    private let defaultTimeoutMilliseconds: UInt64
    private let maxTimeoutMilliseconds: UInt64

    /// Bytes received but not yet a complete frame.
    private var inbound: ByteBuffer?
    /// When the first byte of the frame now partly in `inbound` arrived; `nil` when no frame is
    /// partly received (or reading is paused: the server is not waiting for the client then).
    private var partialFrameStartedAt: NIODeadline?
    private let frameArrival: FrameArrivalRule
    /// Checks the partial frame against ``frameArrival`` when it may be out of time.
    private var readTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var stallTimer: Scheduled<Void>?
    private var readingPaused = false

    private var context: ChannelHandlerContext?
    private var inFlight: [UInt64: InFlightCall] = [:]
    /// Set for the earliest deadline of the calls in flight.
    private var deadlineTimer = EarliestDeadlineTimer()
    private var output: ByteBuffer
    private var writer = JSONWriter(reservingCapacity: 512)
    private var flushScheduled = false
    private var draining = false
    private var closing = false

    init(service: UserServiceV1Handler, configuration: UserRPCServerConfiguration, logger: Logger, allocator: ByteBufferAllocator) {
        self.service = service
        self.configuration = configuration
        self.authenticator = BearerTokenAuthenticator(tokens: configuration.authTokens, openMethods: configuration.unauthenticatedMethods)
        self.frames = FrameDecoder(maxFrameBytes: configuration.maxFrameBytes)
        self.frameArrival = FrameArrivalRule(
            initialTimeout: configuration.readTimeout, minimumBytesPerSecond: configuration.minimumReadBytesPerSecond)
        self.logger = logger
        self.defaultTimeoutMilliseconds = configuration.defaultTimeout.wholeMillisecondsRoundedUp
        self.maxTimeoutMilliseconds = configuration.maxTimeout.wholeMillisecondsRoundedUp
        self.output = allocator.buffer(capacity: 4096)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastActivity = context.eventLoop.now
        scheduleIdleCheck(after: configuration.idleTimeout.timeAmount)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        for call in inFlight.values { call.stopWork() }
        inFlight.removeAll()
        deadlineTimer.cancel()
        readTimer?.cancel()
        idleTimer?.cancel()
        stallTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        lastActivity = context.eventLoop.now
        var bytes = unwrapInboundIn(data)
        if var pending = inbound {
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        inbound = bytes
        processInbound(context: context)
    }

    /// Serves every complete frame in `inbound`, unless the client is not reading its responses:
    /// then the rest waits (with reading paused) until the output drains.
    private func processInbound(context: ChannelHandlerContext) {
        guard var bytes = inbound else { return }
        inbound = nil
        var framesServed = 0
        do {
            while !closing, !readingPaused, let frame = try frames.nextFrame(from: &bytes) {
                framesServed += 1
                handleFrame(frame, context: context)
                if output.readableBytes >= configuration.writeBufferHighWaterMark {
                    flushOutput(context: context)
                    if !context.channel.isWritable { pauseReading(context: context) }
                }
            }
        } catch {
            logger.info("closing connection after a framing error", metadata: ["reason": "\(error)"])
            closeAfterFlushing(context: context)
            return
        }
        if bytes.readableBytes > 0 {
            inbound = bytes
            guard !readingPaused, !closing else { return }
            // The bytes left are the start of a frame: it began in this read if a frame before it
            // ended here, or if none was under way.
            if partialFrameStartedAt == nil || framesServed > 0 { partialFrameStartedAt = context.eventLoop.now }
            armReadTimer(context: context)
        } else {
            partialFrameStartedAt = nil
        }
    }

    /// Sets the read timer for when the partial frame runs out of time, unless it is already set (for
    /// an earlier time: when it fires, it checks again with the bytes received by then).
    private func armReadTimer(context: ChannelHandlerContext) {
        guard readTimer == nil, let start = partialFrameStartedAt, let inbound else { return }
        let deadline = frameArrival.deadline(frameStartedAt: start, bytesReceived: inbound.readableBytes)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        readTimer = context.eventLoop.scheduleTask(deadline: deadline) { handler.value.checkFrameArrival() }
    }

    /// Closes the connection when the partial frame has not kept the minimum rate; otherwise sets
    /// the timer for when it would next run out of time.
    private func checkFrameArrival() {
        readTimer = nil
        guard let context, !closing, !readingPaused, let start = partialFrameStartedAt, let inbound else { return }
        let deadline = frameArrival.deadline(frameStartedAt: start, bytesReceived: inbound.readableBytes)
        guard context.eventLoop.now >= deadline else {
            armReadTimer(context: context)
            return
        }
        logger.info(
            "closing connection: a frame is arriving too slowly",
            metadata: ["bytes_received": "\(inbound.readableBytes)", "since": "\(context.eventLoop.now - start)"])
        closeAfterFlushing(context: context)
    }

    /// Closes a connection that has had no call in flight and no input for the idle timeout.
    private func scheduleIdleCheck(after delay: TimeAmount) {
        guard let context else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: delay) { handler.value.checkIdle() }
    }

    private func checkIdle() {
        guard let context, !closing else { return }
        let idleFor = context.eventLoop.now - lastActivity
        let limit = configuration.idleTimeout.timeAmount
        if inFlight.isEmpty && inbound == nil && idleFor >= limit {
            logger.debug("closing idle connection")
            writer.reset()
            ServerFrame.goaway.encode(into: &writer)
            appendFrame()
            closeAfterFlushing(context: context)
        } else {
            scheduleIdleCheck(after: max(limit - idleFor, .milliseconds(10)))
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            resumeReading(context: context)
        } else {
            pauseReading(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Backpressure: while the client does not read its responses, stop reading its requests, and
    /// close the connection if that lasts longer than the write stall timeout.
    private func pauseReading(context: ChannelHandlerContext) {
        guard !readingPaused else { return }
        readingPaused = true
        // The server is not reading: time spent now does not count against the client's frame.
        partialFrameStartedAt = nil
        readTimer?.cancel()
        readTimer = nil
        context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        stallTimer = context.eventLoop.scheduleTask(in: configuration.writeStallTimeout.timeAmount) {
            handler.value.writeStalled()
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readingPaused else { return }
        readingPaused = false
        stallTimer?.cancel()
        stallTimer = nil
        processInbound(context: context)
        flushOutput(context: context)
        guard !readingPaused, !closing else { return }
        context.channel.setOption(.autoRead, value: true).whenFailure { _ in }
        context.read()
    }

    private func writeStalled() {
        stallTimer = nil
        guard let context, readingPaused else { return }
        logger.info("closing connection: the client has not read its responses within the write stall timeout")
        closing = true
        for call in inFlight.values { call.stopWork() }
        inFlight.removeAll()
        context.close(promise: nil)
    }

    private func handleFrame(_ body: ByteBuffer, context: ChannelHandlerContext) {
        if !draining && !authenticator.isEnabled && body.withUnsafeReadableBytes({ answerOnHotPath(frame: $0) }) {
            return
        }
        let decoded: Result<ClientFrame, ClientFrameError> = body.withUnsafeReadableBytes { bytes in
            Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes, parser: parser) }
        }
        switch decoded {
        case .success(.request(let request)):
            startCall(request, context: context)
        case .success(.ping(let id)):
            writer.reset()
            ServerFrame.pong(id: id).encode(into: &writer)
            appendFrame()
        case .success(.cancel(let id)):
            // A cancel for an unknown (or already answered) call is ignored.
            if let call = inFlight.removeValue(forKey: id) {
                call.stopWork()
                respond(id: id, method: call.method, CallResult.failed(RPCStatus(code: .cancelled, message: "cancelled by the client")))
                closeIfDrained()
            }
        case .failure(.reject(let id, let status)):
            respond(id: id, method: nil, .failed(status))
        case .failure(.fatal(let reason)):
            logger.info("closing connection after a protocol error", metadata: ["reason": "\(reason)"])
            closeAfterFlushing(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Framing errors are handled where frames are split (`processInbound`); what arrives here is
        // I/O (a reset) or a TLS failure.
        logger.debug("closing connection after an error", metadata: ["error": "\(error)"])
        closeAfterFlushing(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is DrainConnectionEvent:
            guard !draining else { return }
            draining = true
            writer.reset()
            ServerFrame.goaway.encode(into: &writer)
            appendFrame()
            flushOutput(context: context)
            closeIfDrained()
        case is ForceCloseConnectionEvent:
            let unfinished = inFlight
            inFlight.removeAll()
            for (id, call) in unfinished {
                call.stopWork()
                respond(id: id, method: call.method, .failed(RPCStatus(code: .unavailable, message: "server shut down before the call finished")))
            }
            closeAfterFlushing(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Calls

    /// The hot path: a call in the common shape, answered from the frame's bytes without building a
    /// JSON document (see ``RequestFrameScanner`` and ``UserServiceV1Handler/answerOnHotPath(_:frame:into:)``).
    /// `false` when the frame must take the general path, which decides everything else.
    private func answerOnHotPath(frame bytes: UnsafeRawBufferPointer) -> Bool {
        guard let request = RequestFrameScanner.scan(bytes) else { return false }
        let timeoutMilliseconds = deadlineMilliseconds(requested: request.timeoutMilliseconds)
        guard timeoutMilliseconds > 0, inFlight.isEmpty || inFlight[request.id] == nil else { return false }
        if service.answerOnHotPath(request, frame: bytes, into: &output) { return true }
        guard let context, let outcome = service.batchedGetUser(request, frame: bytes) else { return false }
        run(outcome, id: request.id, method: UserServiceV1Handler.getUserMethodName, timeoutMilliseconds: timeoutMilliseconds, context: context)
        return true
    }

    private func startCall(_ request: RequestEnvelope, context: ChannelHandlerContext) {
        let id = request.id
        if draining {
            respond(
                id: id, method: request.method, .failed(RPCStatus(code: .unavailable, message: "server is shutting down; retry on a new connection")))
            return
        }
        if authenticator.isEnabled && !authenticator.allows(method: request.method, metadata: request.metadata) {
            respond(id: id, method: request.method, .failed(RPCStatus(code: .unauthenticated, message: "missing or invalid bearer token")))
            return
        }
        if inFlight[id] != nil {
            respond(
                id: id, method: request.method,
                .failed(RPCStatus(code: .invalidArgument, message: "call id \(id) is already in flight on this connection")))
            return
        }
        let timeoutMilliseconds = deadlineMilliseconds(requested: request.timeoutMilliseconds)
        if timeoutMilliseconds == 0 {
            respond(id: id, method: request.method, .failed(RPCStatus(code: .deadlineExceeded, message: "deadline exceeded")))
            return
        }
        guard let outcome = service.handle(method: request.method, payload: request.payload) else {
            respond(id: id, method: request.method, .failed(RPCStatus(code: .unimplemented, message: "unknown method '\(request.method)'")))
            return
        }
        run(outcome, id: id, method: request.method, timeoutMilliseconds: timeoutMilliseconds, context: context)
    }

    /// Every call has a deadline: the client's `timeout_ms`, capped by the server's maximum, or the default.
    private func deadlineMilliseconds(requested: UInt64?) -> UInt64 {
        min(requested ?? defaultTimeoutMilliseconds, maxTimeoutMilliseconds)
    }

    /// Answers or starts a call whose checks (drain, token, id, deadline) have passed.
    private func run(_ outcome: CallOutcome, id: UInt64, method: String, timeoutMilliseconds: UInt64, context: ChannelHandlerContext) {
        switch outcome {
        case .immediate(let result):
            respond(id: id, method: method, result)
        case .blocking(let submit):
            guard admitsWaitingCall(id: id, method: method) else { return }
            let eventLoop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: eventLoop)
            // One hop to a storage thread, one hop back.
            let cancellation = CallCancellation()
            submit(cancellation) { result in
                eventLoop.execute { handler.value.finishCall(id: id, result: result) }
            }
            // Interrupting a statement may itself block (libpq's cancel request): never on the event loop.
            track(id: id, method: method, timeoutMilliseconds: timeoutMilliseconds, context: context) {
                DispatchQueue.global().async { cancellation.cancel() }
            }
        case .deferred(let work):
            guard admitsWaitingCall(id: id, method: method) else { return }
            let eventLoop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: eventLoop)
            let task = Task {
                let result = await work()
                eventLoop.execute { handler.value.finishCall(id: id, result: result) }
            }
            track(id: id, method: method, timeoutMilliseconds: timeoutMilliseconds, context: context) {
                DispatchQueue.global().async { task.cancel() }
            }
        }
    }

    /// Whether another call that waits on storage may start; answers RESOURCE_EXHAUSTED if not.
    private func admitsWaitingCall(id: UInt64, method: String) -> Bool {
        let limit = configuration.maxConcurrentCallsPerConnection
        guard inFlight.count >= limit else { return true }
        respond(
            id: id, method: method,
            .failed(RPCStatus(code: .resourceExhausted, message: "too many calls in flight on this connection (limit \(limit))")))
        return false
    }

    /// Records a started call with its deadline, so that a cancel, the deadline or shutdown can end it.
    private func track(
        id: UInt64, method: String, timeoutMilliseconds: UInt64, context: ChannelHandlerContext, stopWork: @escaping @Sendable () -> Void
    ) {
        let deadline = NIODeadline.now() + .milliseconds(Int64(clamping: timeoutMilliseconds))
        inFlight[id] = InFlightCall(method: method, stopWork: stopWork, deadline: deadline)
        armDeadlineTimer(at: deadline, context: context)
    }

    private func armDeadlineTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        deadlineTimer.arm(at: deadline) { deadline in
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            return context.eventLoop.scheduleTask(deadline: deadline) { handler.value.expireDueCalls() }
        }
    }

    /// Answers DEADLINE_EXCEEDED for every call past its deadline, and sets the timer for the next one.
    private func expireDueCalls() {
        var sweep = deadlineTimer.fired()
        var due: [UInt64] = []
        for (id, call) in inFlight where sweep.isDue(call.deadline) { due.append(id) }
        for id in due { expireCall(id: id) }
        if let next = sweep.next, let context { armDeadlineTimer(at: next, context: context) }
    }

    private func finishCall(id: UInt64, result: CallResult) {
        // Already answered (cancelled, expired, shut down): drop the late result.
        guard let call = inFlight.removeValue(forKey: id) else { return }
        respond(id: id, method: call.method, result)
        scheduleFlush()
        closeIfDrained()
    }

    private func expireCall(id: UInt64) {
        guard let call = inFlight.removeValue(forKey: id) else { return }
        call.stopWork()
        respond(id: id, method: call.method, .failed(RPCStatus(code: .deadlineExceeded, message: "deadline exceeded")))
        scheduleFlush()
        closeIfDrained()
    }

    // MARK: Output

    private func respond(id: UInt64, method: String?, _ result: CallResult) {
        if result.status.code != .ok {
            logger.info(
                "call failed",
                metadata: [
                    "call_id": "\(id)", "method": "\(method ?? "-")", "code": "\(result.status.code.rawValue)",
                    "status_message": "\(result.status.message)",
                ])
        }
        if result.status.code == .ok, case .user(let user)? = result.payload {
            ResponseFrameWriter.writeOKResponse(id: id, payloadCapacity: user.v1JSONCapacity, into: &output) { $0.writeUserV1JSON(user) }
            return
        }
        var payload: [UInt8]?
        if case .json(let bytes)? = result.payload { payload = bytes }
        writer.reset()
        ServerFrame.encodeResponse(id: id, status: result.status, payload: payload, into: &writer)
        appendFrame()
    }

    /// Moves the frame in `writer` to the output buffer.
    private func appendFrame() {
        WireProtocol.writeFrame(writer.bytes, into: &output)
    }

    private func flushOutput(context: ChannelHandlerContext) {
        guard output.readableBytes > 0 else { return }
        let chunk = output
        output = context.channel.allocator.buffer(capacity: 4096)
        context.writeAndFlush(wrapOutboundOut(chunk), promise: nil)
    }

    /// Flushes once at the end of this event-loop tick, however many calls finish in it.
    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let this = handler.value
            this.flushScheduled = false
            if let context = this.context { this.flushOutput(context: context) }
        }
    }

    private func closeIfDrained() {
        guard draining, inFlight.isEmpty, let context else { return }
        closeAfterFlushing(context: context)
    }

    private func closeAfterFlushing(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        for call in inFlight.values { call.stopWork() }
        inFlight.removeAll()
        let channel = context.channel
        let chunk = output
        output.clear()
        context.writeAndFlush(wrapOutboundOut(chunk)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
