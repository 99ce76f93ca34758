import Logging
import NIOCore
import StrictJSON
import UserRPCWire

/// Sent through a connection's pipeline when the server starts a graceful shutdown.
struct DrainConnectionEvent: Sendable {}
/// Sent when the grace period is over: calls still running are answered UNAVAILABLE, then the connection closes.
struct ForceCloseConnectionEvent: Sendable {}

/// Serves one connection: reads request frames, runs calls, writes responses in completion order.
///
/// Calls that cannot block are answered inline while the read is processed; their responses are
/// collected in one output buffer and written with a single flush per read batch. Calls that can
/// block run in a task each and are tracked in `inFlight` until they finish, are cancelled, or
/// pass their deadline; exactly one response goes out per call.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlightCall {
        let method: String
        let task: Task<Void, Never>
        let deadline: Scheduled<Void>?

        func stop() {
            task.cancel()
            deadline?.cancel()
        }
    }

    private let service: UserServiceV1Handler
    private let maxConcurrentCalls: Int
    private var logger: Logger
    private let parser = JSONParser()

    private var context: ChannelHandlerContext?
    private var inFlight: [UInt64: InFlightCall] = [:]
    private var output: ByteBuffer
    private var writer = JSONWriter(reservingCapacity: 512)
    private var flushScheduled = false
    private var draining = false
    private var closing = false

    init(service: UserServiceV1Handler, maxConcurrentCalls: Int, logger: Logger, allocator: ByteBufferAllocator) {
        self.service = service
        self.maxConcurrentCalls = maxConcurrentCalls
        self.logger = logger
        self.output = allocator.buffer(capacity: 4096)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        for call in inFlight.values { call.stop() }
        inFlight.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let body = unwrapInboundIn(data)
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
                call.stop()
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
        if let frameError = error as? FrameError {
            logger.info("closing connection after a framing error", metadata: ["reason": "\(frameError)"])
        } else {
            logger.debug("closing connection after an error", metadata: ["error": "\(error)"])
        }
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
                call.stop()
                respond(id: id, method: call.method, .failed(RPCStatus(code: .unavailable, message: "server shut down before the call finished")))
            }
            closeAfterFlushing(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Calls

    private func startCall(_ request: RequestEnvelope, context: ChannelHandlerContext) {
        let id = request.id
        if draining {
            respond(
                id: id, method: request.method, .failed(RPCStatus(code: .unavailable, message: "server is shutting down; retry on a new connection")))
            return
        }
        if inFlight[id] != nil {
            respond(
                id: id, method: request.method,
                .failed(RPCStatus(code: .invalidArgument, message: "call id \(id) is already in flight on this connection")))
            return
        }
        if request.timeoutMilliseconds == 0 {
            respond(id: id, method: request.method, .failed(RPCStatus(code: .deadlineExceeded, message: "deadline exceeded")))
            return
        }
        guard let outcome = service.handle(method: request.method, payload: request.payload) else {
            respond(id: id, method: request.method, .failed(RPCStatus(code: .unimplemented, message: "unknown method '\(request.method)'")))
            return
        }
        switch outcome {
        case .immediate(let result):
            respond(id: id, method: request.method, result)
        case .deferred(let work):
            guard inFlight.count < maxConcurrentCalls else {
                respond(
                    id: id, method: request.method,
                    .failed(RPCStatus(code: .resourceExhausted, message: "too many calls in flight on this connection (limit \(maxConcurrentCalls))"))
                )
                return
            }
            let eventLoop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: eventLoop)
            let task = Task {
                let result = await work()
                eventLoop.execute { handler.value.finishCall(id: id, result: result) }
            }
            let deadline = request.timeoutMilliseconds.map { milliseconds in
                eventLoop.scheduleTask(in: .milliseconds(Int64(clamping: milliseconds))) {
                    handler.value.expireCall(id: id)
                }
            }
            inFlight[id] = InFlightCall(method: request.method, task: task, deadline: deadline)
        }
    }

    private func finishCall(id: UInt64, result: CallResult) {
        // Already answered (cancelled, expired, shut down): drop the late result.
        guard let call = inFlight.removeValue(forKey: id) else { return }
        call.deadline?.cancel()
        respond(id: id, method: call.method, result)
        scheduleFlush()
        closeIfDrained()
    }

    private func expireCall(id: UInt64) {
        guard let call = inFlight.removeValue(forKey: id) else { return }
        call.task.cancel()
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
        writer.reset()
        ServerFrame.encodeResponse(id: id, status: result.status, payload: result.payload, into: &writer)
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
        for call in inFlight.values { call.stop() }
        inFlight.removeAll()
        let channel = context.channel
        let chunk = output
        output.clear()
        context.writeAndFlush(wrapOutboundOut(chunk)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
