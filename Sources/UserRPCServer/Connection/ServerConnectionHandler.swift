import Dispatch
import Logging
import NIOCore
import NowOrLater
import StrictJSON
import UserRPCWire

/// Serves one connection: splits the byte stream into frames, routes each call to its method's
/// handler, writes the answers, and carries out what its ``ServerConnectionStateMachine`` decides.
///
/// Calls answered now are answered while the read is processed; their responses are collected in one
/// output buffer and written with a single flush per read. Calls answered later are tracked until
/// they finish, are cancelled, or pass their deadline: exactly one response goes out per call.
///
/// The connection knows nothing of the services it serves: it finds a call's route by the method's
/// bytes (``RPCRouter``), runs the interceptors, and writes whatever message the route answers.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A call answered later (a server-streaming call among them).
    private struct InFlightCall {
        var context: ServerContext
        /// Stops the call's work; called at most once, off the event loop.
        let stop: @Sendable () -> Void
        /// Tells this call from an earlier one with the same id (an id may be reused once its call is
        /// answered, while the old call's work may still be finishing).
        let serial: UInt64
        /// The flow control of a server-streaming call; `nil` for a unary one.
        var stream: ServerStreamFlow<HeldMessage>?
    }

    /// A stream message waiting for credit (or for room in the output), and its producer.
    private struct HeldMessage {
        let frame: ByteBuffer
        /// Where the stream resumes once this message is sent (``ServerStreamWriter/write(_:resumeDetails:)``).
        let resumeDetails: JSONObject?
        let callID: UInt64
        let sent: CheckedContinuation<Result<Void, RPCError>, Never>
    }

    private let router: RPCRouter
    /// Runs first on every call (a concrete type, called directly).
    private let requestIDs: RequestIDInterceptor
    /// The other interceptors, in order.
    private let interceptors: [any ServerInterceptor]
    private let metrics: ServerMetrics
    private let configuration: UserRPCServerConfiguration
    private let logger: Logger
    /// The same, shared by reference with the calls' contexts.
    private let callLogger: ServerContext.SharedLogger
    /// Number literals of any length are read (as text, so length costs nothing more): a huge number
    /// where an integer is expected is then INVALID_ARGUMENT naming its field, not a refused frame.
    private let parser = JSONParser(limits: .unboundedNumbers)
    private let defaultTimeoutMilliseconds: UInt64
    private let maxTimeoutMilliseconds: UInt64

    private var context: ChannelHandlerContext?
    #if DEBUG
        /// When the frames being served arrived: one clock reading per read, not one per call.
        private var servedAt = NIODeadline.uptimeNanoseconds(0)
        /// Bytes received but not yet served.
        private var inbound: InboundFrames
        private var inFlight: [UInt64: InFlightCall] = [:]
        private var output: ByteBuffer
        /// The frame being served, as the scanner read it (kept here so that it is neither made nor
        /// copied per frame).
        private var scanned = ScannedRequest()
        /// The route of the previous call read by the scanner.
        private var lastRoute: MethodRoute?
        private var machine: ServerConnectionStateMachine
    #else
        // The state below is touched only on the channel's event loop, by this handler's own methods,
        // so in release builds the state every call touches skips the runtime's exclusivity checks (a
        // measurable share of a call's cost, as in the client's handler); debug builds keep them.
        @exclusivity(unchecked) private var servedAt = NIODeadline.uptimeNanoseconds(0)
        @exclusivity(unchecked) private var inbound: InboundFrames
        @exclusivity(unchecked) private var inFlight: [UInt64: InFlightCall] = [:]
        @exclusivity(unchecked) private var output: ByteBuffer
        @exclusivity(unchecked) private var scanned = ScannedRequest()
        @exclusivity(unchecked) private var lastRoute: MethodRoute?
        @exclusivity(unchecked) private var machine: ServerConnectionStateMachine
    #endif
    /// Set for the earliest deadline of the calls in flight.
    private var deadlineTimer = EarliestDeadlineTimer()
    private var readTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?
    private var graceTimer: Scheduled<Void>?
    private var flushScheduled = false
    private var activated = false
    /// The serial of the last call that went in flight.
    private var lastSerial: UInt64 = 0
    /// Bytes handed to the channel so far (with its buffered bytes: what the client has taken).
    private var flushedBytes = 0

    init(
        router: RPCRouter, requestIDs: RequestIDInterceptor, interceptors: [any ServerInterceptor], metrics: ServerMetrics,
        configuration: UserRPCServerConfiguration,
        logger: Logger, allocator: ByteBufferAllocator
    ) {
        self.router = router
        self.requestIDs = requestIDs
        self.interceptors = interceptors
        self.metrics = metrics
        self.configuration = configuration
        self.machine = ServerConnectionStateMachine(
            configuration: .init(
                idleTimeout: configuration.idleTimeout.timeAmount,
                frameArrival: FrameArrivalRule(
                    initialTimeout: configuration.readTimeout, minimumBytesPerSecond: configuration.minimumReadBytesPerSecond),
                writeStallTimeout: configuration.writeStallTimeout.timeAmount,
                closeLinger: configuration.closeLinger.timeAmount,
                gracePeriod: configuration.gracePeriod.timeAmount),
            now: .uptimeNanoseconds(0))
        self.inbound = InboundFrames(maxFrameBytes: configuration.maxFrameBytes)
        self.logger = logger
        self.callLogger = ServerContext.SharedLogger(logger)
        self.defaultTimeoutMilliseconds = configuration.defaultTimeout.wholeMillisecondsRoundedUp
        self.maxTimeoutMilliseconds = configuration.maxTimeout.wholeMillisecondsRoundedUp
        self.output = allocator.buffer(capacity: 4096)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activate(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        perform(machine.activated(now: context.eventLoop.now))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        stopAllCalls()
        for timer in [readTimer, idleTimer, stallTimer, lingerTimer, graceTimer] { timer?.cancel() }
        deadlineTimer.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Closing: what the client still sends is read (so that it sees our end of the stream, not a
        // reset) and dropped.
        guard machine.isReadingFrames else { return }
        let now = context.eventLoop.now
        machine.received(now: now)
        var bytes = unwrapInboundIn(data)
        inbound.append(&bytes)
        serveInbound(context: context, now: now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { releaseHeldMessages() }
        perform(
            machine.writabilityChanged(isWritable: context.channel.isWritable, bytesWritten: bytesWritten(context), now: context.eventLoop.now))
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            perform(machine.quiesce(now: context.eventLoop.now))
        case ChannelEvent.inputClosed:
            inbound.removeAll()
            // A client that shut its side can no longer grant credit or cancel: its streams end
            // CANCELLED (its unary calls are still answered).
            endStreams(RPCError(code: .cancelled, message: "the client shut its side of the connection"))
            perform(machine.inputClosed(now: context.eventLoop.now))
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Framing errors are handled where frames are split (`serveInbound`); what arrives here is
        // I/O (a reset) or a TLS failure: nothing more can be sent.
        logger.debug("closing connection after an error", metadata: ["error": "\(error)"])
        machine.closed()
        stopAllCalls()
        context.close(promise: nil)
    }

    // MARK: Frames

    /// Serves every complete frame in `inbound`, unless reading is paused (the client is not reading
    /// its responses): then the rest waits until the output drains.
    /// `now` is when the frames arrived (or reading resumed): the calls' deadlines count from it.
    private func serveInbound(context: ChannelHandlerContext, now: NIODeadline) {
        servedAt = now
        var framesServed = 0
        do {
            while machine.isReadingFrames, !machine.readingPaused, let frame = try inbound.next() {
                framesServed += 1
                frame.withUnsafeReadableBytes { serveFrame($0) }
                if output.readableBytes >= configuration.writeBufferHighWaterMark {
                    flushOutput(context: context)
                    if !context.channel.isWritable {
                        perform(machine.writabilityChanged(isWritable: false, bytesWritten: bytesWritten(context), now: context.eventLoop.now))
                    }
                }
            }
        } catch {
            metrics.rejectedFrame(error == .emptyFrame ? .empty : .tooLarge)
            logger.info("closing connection after a framing error", metadata: ["reason": "\(error)"])
            perform(machine.protocolError(now: context.eventLoop.now))
            return
        }
        perform(machine.servedInbound(framesServed: framesServed, partialFrameBytes: inbound.bufferedBytes, now: now))
    }

    private func serveFrame(_ frame: UnsafeRawBufferPointer) {
        // The common shape of a request, read straight from its bytes (no JSON document).
        if RequestFrameScanner.scan(frame, into: &scanned) {
            let method = UnsafeRawBufferPointer(rebasing: frame[scanned.method])
            let metadata = Self.metadata(scanned.metadata, in: frame)
            let (id, timeout) = (scanned.id, scanned.timeoutMilliseconds)
            // The scanned members are lent to the route, not copied into the call.
            withUnsafePointer(to: &scanned.payload) { members in
                serveRequest(
                    id: id, route: route(utf8: method), methodName: { String(decoding: method, as: UTF8.self) },
                    timeoutMilliseconds: timeout, metadata: metadata, payload: .plain(members, frame: frame))
            }
            return
        }
        switch Result(catching: { () throws(ClientFrameError) in try ClientFrame.decode(frame, parser: parser) }) {
        case .success(.request(let request)):
            serveRequest(
                id: request.id, route: router.route(named: request.method), methodName: { request.method },
                timeoutMilliseconds: request.timeoutMilliseconds, metadata: request.metadata, payload: .json(request.payload),
                window: request.window)
        case .success(.ping(let id)):
            ServerFrame.writePong(id: id, into: &output)
        case .success(.cancel(let id)):
            cancelCall(id: id)
        case .success(.credit(let id, let add)):
            grantCredit(id: id, add: add)
        case .failure(.reject(let id, let status)):
            metrics.rejectedFrame(.invalidEnvelope)
            var call = ServerContext(
                callID: id, method: "-", requestMetadata: [:], deadline: .distantFuture, receivedAt: servedAt, logger: callLogger)
            answer(&call, failure: RPCError(status))
        case .failure(.ignore(let reason)):
            metrics.rejectedFrame(.malformedControl)
            logger.debug("ignoring a frame", metadata: ["reason": "\(reason)"])
        case .failure(.fatal(let reason)):
            metrics.rejectedFrame(.unreadable)
            logger.info("closing connection after a protocol error", metadata: ["reason": "\(reason)"])
            if let context { perform(machine.protocolError(now: context.eventLoop.now)) }
        }
    }

    /// The route of the method named by these bytes. A connection usually calls one method after
    /// another, so the last route found is tried first (one comparison of the name's bytes).
    private func route(utf8 method: UnsafeRawBufferPointer) -> MethodRoute? {
        if let lastRoute, lastRoute.hasName(method) { return lastRoute }
        let route = router.route(utf8: method)
        if route != nil { lastRoute = route }
        return route
    }

    private static func metadata(_ members: ScannedPayload, in frame: UnsafeRawBufferPointer) -> [String: String] {
        guard members.count > 0 else { return [:] }
        var metadata: [String: String] = [:]
        for index in 0..<members.count {
            let member = members[index]
            metadata[String(decoding: UnsafeRawBufferPointer(rebasing: frame[member.key]), as: UTF8.self)] = String(
                decoding: UnsafeRawBufferPointer(rebasing: frame[member.value]), as: UTF8.self)
        }
        return metadata
    }

    // MARK: Calls

    /// One request, whichever way it was read: the connection's checks, the interceptors, the route.
    private func serveRequest(
        id: UInt64, route: MethodRoute?, methodName: () -> String, timeoutMilliseconds: UInt64?, metadata: [String: String],
        payload: RequestPayload, window: UInt64? = nil
    ) {
        guard let context else { return }
        let isStream = route?.isServerStreaming ?? false
        // Every unary call has a deadline: the client's `timeout_ms`, capped by the server's maximum,
        // or the default. A stream has the client's `timeout_ms` as it is, or none.
        let timeout = isStream ? timeoutMilliseconds : min(timeoutMilliseconds ?? defaultTimeoutMilliseconds, maxTimeoutMilliseconds)
        var call = ServerContext(
            callID: id, method: route?.fullName ?? methodName(), requestMetadata: metadata,
            deadline: timeout.map { servedAt + .milliseconds(Int64(clamping: $0)) } ?? .distantFuture, receivedAt: servedAt,
            logger: callLogger)
        if let route { call.routeIndex = route.index }
        guard machine.isAcceptingCalls else {
            return answer(&call, failure: RPCError(code: .unavailable, message: "this connection is closing (goaway); retry on a new connection"))
        }
        _ = requestIDs.willRun(&call)  // never refuses
        if !interceptors.isEmpty {
            for interceptor in interceptors {
                if let refusal = interceptor.willRun(&call) { return answer(&call, failure: refusal) }
            }
        }
        if !inFlight.isEmpty, inFlight[id] != nil {
            return answer(&call, failure: RPCError(code: .invalidArgument, message: "call id \(id) is already in flight on this connection"))
        }
        guard timeout != 0 else { return answer(&call, failure: RPCError(code: .deadlineExceeded, message: "deadline exceeded")) }
        guard let route else {
            return answer(&call, failure: RPCError(code: .unimplemented, message: "unknown method '\(RPCError.echo(call.method))'"))
        }
        if isStream { call.streamSink = makeStreamSink(id: id, serial: lastSerial &+ 1, context: context) }
        switch route.serve(payload, parser: parser, context: &call, output: &output) {
        case .now(.success(let unwritten)):
            if let unwritten { writeOK(call, unwritten) } else { answeredOK(call) }
        case .now(.failure(let error)):
            answer(&call, failure: error)
        case .later(let pending):
            startCall(call, pending, window: isStream ? window ?? configuration.defaultStreamWindow : nil, context: context)
        }
    }

    /// Starts a call answered later, within the limit of calls in flight (a stream, with `window`
    /// messages of credit, is one of them).
    private func startCall(_ call: ServerContext, _ pending: RouteAnswer.Pending, window: UInt64?, context: ChannelHandlerContext) {
        var call = call
        let limit = configuration.maxConcurrentCallsPerConnection
        guard inFlight.count < limit else {
            return answer(&call, failure: RPCError(code: .resourceExhausted, message: "too many calls in flight on this connection (limit \(limit))"))
        }
        let id = call.callID
        lastSerial &+= 1
        let serial = lastSerial
        let eventLoop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        // One hop to wherever the work runs, one hop back.
        let stop = pending.start { result in
            eventLoop.execute { handler.value.finishCall(id: id, serial: serial, result) }
        }
        inFlight[id] = InFlightCall(context: call, stop: stop, serial: serial, stream: window.map { ServerStreamFlow(window: $0) })
        metrics.callsInFlight.increment()
        machine.callStarted()
        if call.deadline != .distantFuture { armDeadlineTimer(at: call.deadline, context: context) }
    }

    private func finishCall(id: UInt64, serial: UInt64, _ result: Result<(any RPCMessage)?, RPCError>) {
        // Already answered (cancelled, expired, shut down): the late result is dropped.
        guard inFlight[id]?.serial == serial,
            let entry = takeInFlight(id, endingWith: RPCError(code: .internal, message: "the stream's handler returned during a write"))
        else { return }
        var call = entry.context
        switch result {
        case .success(let unwritten):
            if let unwritten {
                writeOK(call, unwritten)
            } else if entry.stream != nil {
                // The end of a stream: OK, with an empty payload (an OK response always has one).
                ResponseFrameWriter.writeOK(
                    id: id, requestID: call.requestIDValue, metadata: call.responseMetadata, message: StreamEnd(), into: &output)
                answeredOK(call)
            } else {
                answeredOK(call)
            }
        case .failure(let error):
            answer(&call, failure: error)
        }
        callEnded()
    }

    // MARK: Streams

    /// Where the messages of stream `id` go: its producer's writes hop to this loop.
    private func makeStreamSink(id: UInt64, serial: UInt64, context: ChannelHandlerContext) -> ServerStreamSink {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        return ServerStreamSink(callID: id, allocator: context.channel.allocator, eventLoop: context.eventLoop) { frame, details, sent in
            handler.value.deliver(HeldMessage(frame: frame, resumeDetails: details, callID: id, sent: sent), toStream: id, serial: serial)
        }
    }

    /// A producer wrote a message: sent now if the stream has credit and the connection has room,
    /// held (its producer waiting) otherwise; refused if the call has ended.
    private func deliver(_ message: HeldMessage, toStream id: UInt64, serial: UInt64) {
        guard inFlight[id]?.serial == serial, inFlight[id]?.stream != nil, let context else {
            message.sent.resume(returning: .failure(RPCError(code: .cancelled, message: "the stream has ended")))
            return
        }
        send(inFlight[id]!.stream!.offer(message, canWrite: context.channel.isWritable))
    }

    /// The client granted more messages of stream `id`; a credit for a unary call, or for a call
    /// that is not in flight, is ignored.
    private func grantCredit(id: UInt64, add: UInt64) {
        guard inFlight[id]?.stream != nil, let context else { return }
        send(inFlight[id]!.stream!.grant(add, canWrite: context.channel.isWritable))
    }

    /// Ends every stream in flight with `error` and stops its work.
    private func endStreams(_ error: RPCError) {
        for id in inFlight.keys.sorted() where inFlight[id]?.stream != nil { end(id: id, with: error) }
    }

    /// The connection can take output again: held stream messages go out while their credit lasts.
    private func releaseHeldMessages() {
        for id in inFlight.keys where inFlight[id]?.stream?.held.isEmpty == false {
            send(inFlight[id]!.stream!.writable())
        }
    }

    private func send(_ messages: [HeldMessage]) {
        guard !messages.isEmpty else { return }
        for message in messages {
            var frame = message.frame
            output.writeBuffer(&frame)
            if let details = message.resumeDetails, let sink = inFlight[message.callID]?.context.streamSink {
                sink.resumeDetails.withLockedValue { $0 = details }
            }
            message.sent.resume(returning: .success(()))
        }
        scheduleFlush()
    }

    /// Writes the OK answer `message` to `call`.
    private func writeOK(_ call: ServerContext, _ message: any RPCMessage) {
        ResponseFrameWriter.writeOK(
            id: call.callID, requestID: call.requestIDValue, metadata: call.responseMetadata, message: message, into: &output)
        answeredOK(call)
    }

    /// `call` was answered OK: the interceptors hear of it.
    private func answeredOK(_ call: ServerContext) {
        if !interceptors.isEmpty { for interceptor in interceptors { interceptor.didAnswer(call, code: .ok) } }
    }

    /// The client cancelled call `id`: its work stops and it is answered CANCELLED. A cancel for a
    /// call that is not in flight is ignored.
    private func cancelCall(id: UInt64) {
        end(id: id, with: RPCError(code: .cancelled, message: "cancelled by the client"))
    }

    /// Ends call `id` here before its work answered (cancel, deadline, a stream whose client shut its
    /// side): stops the work, tells a stream's waiting writers, and answers `error`. A call not in
    /// flight is left alone.
    private func end(id: UInt64, with error: RPCError) {
        guard let entry = takeInFlight(id, endingWith: error) else { return }
        stop(entry)
        var call = entry.context
        answer(&call, failure: error)
        callEnded()
    }

    /// A call that waited is answered: flush at the end of this tick, and tell the state machine.
    private func callEnded() {
        scheduleFlush()
        if let context { perform(machine.callFinished(now: context.eventLoop.now)) }
    }

    private func armDeadlineTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        deadlineTimer.arm(at: deadline) { deadline in
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            return context.eventLoop.scheduleTask(deadline: deadline) { handler.value.expireDueCalls() }
        }
    }

    /// Answers DEADLINE_EXCEEDED for every call past its deadline, and sets the timer for the next one.
    private func expireDueCalls() {
        guard let context else { return }
        var sweep = deadlineTimer.fired(now: context.eventLoop.now)
        var due: [(id: UInt64, deadline: NIODeadline)] = []
        for (id, call) in inFlight where sweep.isDue(call.context.deadline) { due.append((id, call.context.deadline)) }
        // Earliest deadline first, also when a late timer finds several due at once.
        due.sort { $0.deadline < $1.deadline || ($0.deadline == $1.deadline && $0.id < $1.id) }
        for (id, _) in due { end(id: id, with: RPCError(code: .deadlineExceeded, message: "deadline exceeded")) }
        if let next = sweep.next, self.context != nil { armDeadlineTimer(at: next, context: context) }
    }

    /// Stops a call's work off the event loop: interrupting a statement may itself block (libpq's
    /// cancel request).
    private func stop(_ call: InFlightCall) {
        let stop = call.stop
        DispatchQueue.global().async { stop() }
    }

    /// Removes call `id` from the calls waiting for their answers; a stream's producers waiting to
    /// write are told the call ended with `error`.
    private func takeInFlight(_ id: UInt64, endingWith error: RPCError) -> InFlightCall? {
        guard var entry = inFlight.removeValue(forKey: id) else { return nil }
        metrics.callsInFlight.decrement()
        Self.endStream(&entry, error)
        return entry
    }

    private static func endStream(_ entry: inout InFlightCall, _ error: RPCError) {
        guard entry.stream != nil else { return }
        for held in entry.stream!.end() { held.sent.resume(returning: .failure(error)) }
    }

    /// Stops every call in flight without answering (the connection is closing).
    private func stopAllCalls() {
        for var call in inFlight.values {
            stop(call)
            Self.endStream(&call, RPCError(code: .unavailable, message: "the connection closed"))
            for interceptor in interceptors { interceptor.didAbandon(call.context) }
        }
        metrics.callsInFlight.decrement(by: Double(inFlight.count))
        inFlight.removeAll()
    }

    // MARK: Output

    /// Writes a failed call's answer, logs it, and tells the interceptors.
    private func answer(_ call: inout ServerContext, failure error: RPCError) {
        call.logger.info(
            "call failed",
            metadata: [
                "call_id": "\(call.callID)", "method": "\(call.method)", "code": "\(error.code.rawValue)", "status_message": "\(error.message)",
            ])
        ResponseFrameWriter.writeFailure(
            id: call.callID, requestID: call.requestIDValue, metadata: call.responseMetadata, status: error.status, into: &output)
        if !interceptors.isEmpty { for interceptor in interceptors { interceptor.didAnswer(call, code: error.code) } }
    }

    private func flushOutput(context: ChannelHandlerContext) {
        guard output.readableBytes > 0 else { return }
        let chunk = output
        flushedBytes += chunk.readableBytes
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

    /// How much of its responses the client has taken: bytes flushed, less those the channel still holds.
    private func bytesWritten(_ context: ChannelHandlerContext) -> Int {
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        return flushedBytes - buffered
    }

    // MARK: State machine actions

    private func perform(_ action: ServerConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .scheduleReadCheck(let deadline):
            readTimer?.cancel()
            readTimer = schedule(at: deadline, context: context) { $0.readTimerFired() }
        case .scheduleIdleCheck(let deadline):
            idleTimer = schedule(at: deadline, context: context) { $0.idleTimerFired() }
        case .pauseReading(let stallCheckAt):
            readTimer?.cancel()
            context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
            stallTimer = schedule(at: stallCheckAt, context: context) { $0.stallTimerFired() }
        case .scheduleStallCheck(let deadline):
            stallTimer = schedule(at: deadline, context: context) { $0.stallTimerFired() }
        case .resumeReading:
            stallTimer?.cancel()
            serveInbound(context: context, now: context.eventLoop.now)
            flushOutput(context: context)
            guard machine.isReadingFrames, !machine.readingPaused else { return }
            context.channel.setOption(.autoRead, value: true).whenFailure { _ in }
            context.read()
        case .sendGoAway(let graceEndsAt, let lingerEndsAt):
            ServerFrame.writeGoAway(into: &output)
            flushOutput(context: context)
            if let graceEndsAt {
                graceTimer = schedule(at: graceEndsAt, context: context) { $0.perform($0.machine.gracePeriodEnded()) }
            }
            if let lingerEndsAt { perform(.scheduleLingerEnd(at: lingerEndsAt)) }
        case .scheduleLingerEnd(let deadline):
            lingerTimer?.cancel()
            lingerTimer = schedule(at: deadline, context: context) { $0.lingerTimerFired() }
        case .closeGracefully:
            // Calls still in flight (after a protocol error) are not answered.
            stopAllCalls()
            readTimer?.cancel()
            flushOutput(context: context)
            // The output is shut once everything before it is written: the client reads all its
            // answers, then the end of the stream; what it still sends is read and dropped, so that
            // closing does not reset the connection under answers it has not read yet.
            let channel = context.channel
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            channel.close(mode: .output).whenComplete { result in
                switch result {
                case .success:
                    let this = handler.value
                    guard let context = this.context else { return }
                    this.perform(this.machine.outputShut(now: context.eventLoop.now))
                case .failure:
                    channel.close(promise: nil)
                }
            }
            context.channel.setOption(.autoRead, value: true).whenFailure { _ in }
            context.read()
        case .closeNow(let reason):
            logger.info("closing connection", metadata: ["reason": "\(Self.describe(reason))"])
            stopAllCalls()
            context.close(promise: nil)
        case .failCallsAndCloseNow:
            let unfinished = inFlight
            metrics.callsInFlight.decrement(by: Double(inFlight.count))
            inFlight.removeAll()
            for (_, entry) in unfinished.sorted(by: { $0.key < $1.key }) {
                var entry = entry
                stop(entry)
                // A stream's handler may have said where a client resumes it.
                let error = RPCError(
                    code: .unavailable, message: "server shut down before the call finished",
                    details: entry.context.streamSink?.resumeDetails.withLockedValue { $0 })
                Self.endStream(&entry, error)
                var call = entry.context
                answer(&call, failure: error)
            }
            flushOutput(context: context)
            context.close(promise: nil)
        }
    }

    private static func describe(_ reason: ServerConnectionStateMachine.AbortReason) -> String {
        switch reason {
        case .readTimeout: "a frame is arriving too slowly (read timeout and minimum rate)"
        case .writeStalled: "the client has not read its responses within the write stall timeout"
        case .lingerOver: "the client did not close after the server's last answer"
        }
    }

    private func schedule(
        at deadline: NIODeadline, context: ChannelHandlerContext, _ body: @escaping @Sendable (ServerConnectionHandler) -> Void
    ) -> Scheduled<Void> {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        return context.eventLoop.scheduleTask(deadline: deadline) { body(handler.value) }
    }

    private func readTimerFired() {
        readTimer = nil
        guard let context else { return }
        perform(machine.readCheckFired(partialFrameBytes: inbound.bufferedBytes, now: context.eventLoop.now))
    }

    private func idleTimerFired() {
        guard let context else { return }
        perform(machine.idleCheckFired(hasPartialFrame: inbound.bufferedBytes > 0, now: context.eventLoop.now))
    }

    private func stallTimerFired() {
        guard let context else { return }
        perform(machine.stallCheckFired(bytesWritten: bytesWritten(context), now: context.eventLoop.now))
    }

    private func lingerTimerFired() {
        guard let context else { return }
        perform(machine.lingerEnded(now: context.eventLoop.now))
    }
}
