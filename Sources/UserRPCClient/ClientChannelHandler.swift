import NIOCore
import StrictJSON
import UserRPCWire

/// The client's end of one connection: writes request frames, matches responses to calls by id.
///
/// Lives on the channel's event loop; everything reaches it through `eventLoop.execute`.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Resumed exactly once: by the answer, or by the call's end here (deadline, cancellation, a
    /// failed connection), whichever takes the call out of `pending` first.
    typealias Completion = UnsafeContinuation<Result<ServerFrame, UserRPCError>, Never>

    /// Who waits for a call's answer: its own task, or a group of calls sent together.
    private enum Waiter {
        case single(Completion)
        case member(CallGroupReference, index: Int)
    }

    private struct Pending {
        let waiter: Waiter
        let deadline: NIODeadline?

        func resume(_ result: Result<ServerFrame, UserRPCError>) {
            switch waiter {
            case .single(let completion): completion.resume(returning: result)
            case .member(let group, let index): group.finish(index, result)
            }
        }
    }

    private var context: ChannelHandlerContext?
    private var pending: [UInt64: Pending] = [:]
    /// One timer for all calls' deadlines, set for the earliest one; calls that finish leave it alone.
    /// (A timer per call costs a schedule and a cancel on every call.)
    private var deadlineTimer: (at: NIODeadline, task: Scheduled<Void>)?
    private var output: ByteBuffer
    /// Reused by the payload encoders of pipelined calls.
    private var scratch = JSONWriter(reservingCapacity: 256)
    private var flushScheduled = false
    private var draining = false
    private var closedError: UserRPCError?
    private let parser = JSONParser()
    /// Splits the inbound bytes into frames; `inbound` keeps a frame that has not fully arrived.
    private let frames: FrameDecoder
    private var inbound: ByteBuffer?
    /// Called once when the connection must not take new calls (goaway, close).
    private let onRetire: @Sendable () -> Void
    private var retired = false

    init(allocator: ByteBufferAllocator, maxFrameBytes: Int, onRetire: @escaping @Sendable () -> Void) {
        self.output = allocator.buffer(capacity: 4096)
        self.frames = FrameDecoder(maxFrameBytes: maxFrameBytes)
        self.onRetire = onRetire
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Sends one frame (length prefix and body) and completes `completion` with the matching response (or pong).
    func start(id: UInt64, frame: ByteBuffer, timeout: Duration?, completion: Completion) {
        guard let context, closedError == nil else {
            completion.resume(returning: .failure(closedError ?? UserRPCError(code: .unavailable, message: "connection is closed")))
            return
        }
        let deadline = timeout.map { NIODeadline.now() + $0.timeAmount }
        pending[id] = Pending(waiter: .single(completion), deadline: deadline)
        if let deadline { armDeadlineTimer(at: deadline, context: context) }
        var frame = frame
        output.writeBuffer(&frame)
        scheduleFlush()
    }

    /// Sends calls `firstID ..< firstID + count` in one write, their frames written straight into the
    /// outgoing buffer by `writeFrames` (with a scratch writer it may use); `group` collects their answers.
    func start(
        firstID: UInt64, count: Int, timeout: Duration?, group: CallGroupReference,
        writeFrames: (inout ByteBuffer, inout JSONWriter) -> Void
    ) {
        guard let context, closedError == nil else {
            let error = closedError ?? UserRPCError(code: .unavailable, message: "connection is closed")
            for index in 0..<count { group.finish(index, .failure(error)) }
            return
        }
        let deadline = timeout.map { NIODeadline.now() + $0.timeAmount }
        for index in 0..<count {
            pending[firstID &+ UInt64(index)] = Pending(waiter: .member(group, index: index), deadline: deadline)
        }
        writeFrames(&output, &scratch)
        if let deadline { armDeadlineTimer(at: deadline, context: context) }
        scheduleFlush()
    }

    private func armDeadlineTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        if let timer = deadlineTimer {
            guard deadline < timer.at else { return }
            timer.task.cancel()
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: deadline) { handler.value.expireDueCalls() }
        deadlineTimer = (deadline, task)
    }

    /// Answers DEADLINE_EXCEEDED for every call past its deadline, and sets the timer for the next one.
    private func expireDueCalls() {
        deadlineTimer = nil
        let now = NIODeadline.now()
        var due: [UInt64] = []
        var next: NIODeadline?
        for (id, call) in pending {
            guard let deadline = call.deadline else { continue }
            if deadline <= now {
                due.append(id)
            } else {
                next = min(next ?? deadline, deadline)
            }
        }
        for id in due { expire(id: id) }
        if let next, let context { armDeadlineTimer(at: next, context: context) }
    }

    /// The calling task was cancelled: answer CANCELLED now and tell the server.
    func cancel(id: UInt64) {
        guard let call = pending.removeValue(forKey: id) else { return }
        call.resume(.failure(UserRPCError(code: .cancelled, message: "call cancelled")))
        sendCancel(id: id)
        closeIfDrained()
    }

    private func expire(id: UInt64) {
        guard let call = pending.removeValue(forKey: id) else { return }
        call.resume(.failure(UserRPCError(code: .deadlineExceeded, message: "deadline exceeded")))
        sendCancel(id: id)
        closeIfDrained()
    }

    private func sendCancel(id: UInt64) {
        guard closedError == nil else { return }
        var writer = JSONWriter(reservingCapacity: 48)
        writer.beginObject()
        writer.key("type")
        writer.string("cancel")
        writer.key("id")
        writer.uint64(id)
        writer.endObject()
        WireProtocol.writeFrame(writer.bytes, into: &output)
        scheduleFlush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var partial = inbound {
            partial.writeBuffer(&bytes)
            bytes = partial
        }
        inbound = nil
        // Every answer in these bytes arrived now.
        let readAt = ContinuousClock.now
        do {
            while let frame = try frames.nextFrame(from: &bytes) {
                guard handleFrame(frame, readAt: readAt) else {
                    context.close(promise: nil)
                    return
                }
            }
        } catch {
            // Typically a TLS server answering a plaintext client with a TLS record.
            fail(UserRPCError(code: .unavailable, message: "the server's reply is not a user-rpc frame (\(error)); is it a TLS server?"))
            context.close(promise: nil)
            return
        }
        if bytes.readableBytes > 0 { inbound = bytes }
    }

    /// Answers the call a frame is for; returns `false` when the frame is malformed and the connection
    /// must close.
    private func handleFrame(_ frame: ByteBuffer, readAt: ContinuousClock.Instant) -> Bool {
        let decoded = frame.withUnsafeReadableBytes { bytes in
            // The common case, an OK response: its envelope is scanned, and a call of a group reads
            // its payload straight from the bytes.
            if let ok = ResponseFrameScanner.scanOK(bytes) {
                let payload = UnsafeRawBufferPointer(rebasing: bytes[ok.payload])
                guard let call = pending.removeValue(forKey: ok.id) else {
                    // A response for a call already answered locally (cancelled, timed out) is dropped.
                    return Result<ServerFrame?, ServerFrameError>.success(nil)
                }
                switch call.waiter {
                case .member(let group, let index):
                    if group.finishOK(index, payload: payload, parser: parser, answeredAt: readAt) { return .success(nil) }
                case .single:
                    if case .object(let object)? = try? parser.parse(payload) {
                        let message = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[ok.message]), as: UTF8.self)
                        call.resume(.success(.response(ResponseEnvelope(id: ok.id, status: RPCStatus(code: .ok, message: message), payload: object))))
                        return .success(nil)
                    }
                }
                // The payload is malformed: the general decoder below says how, and the call fails with the connection.
                pending[ok.id] = call
            }
            return Result { () throws(ServerFrameError) in try ServerFrame.decode(bytes, parser: parser) }
        }
        switch decoded {
        case .success(nil):
            closeIfDrained()
        case .success(.goaway?):
            draining = true
            retire()
            closeIfDrained()
        case .success(let frame?):
            let id: UInt64
            switch frame {
            case .response(let response): id = response.id
            case .pong(let pongID): id = pongID
            case .goaway: return true
            }
            // A response for a call already answered locally (cancelled, timed out) is dropped.
            guard let call = pending.removeValue(forKey: id) else { return true }
            call.resume(.success(frame))
            closeIfDrained()
        case .failure(let error):
            fail(UserRPCError(code: .internal, message: "\(error)"))
            return false
        }
        return true
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(UserRPCError(code: .unavailable, message: "connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(UserRPCError(code: .unavailable, message: "connection failed: \(error)"))
        context.close(promise: nil)
    }

    private func fail(_ error: UserRPCError) {
        if closedError == nil { closedError = error }
        retire()
        let calls = pending
        pending.removeAll()
        deadlineTimer?.task.cancel()
        deadlineTimer = nil
        for call in calls.values {
            call.resume(.failure(error))
        }
    }

    private func retire() {
        guard !retired else { return }
        retired = true
        onRetire()
    }

    private func closeIfDrained() {
        guard draining, pending.isEmpty, let context else { return }
        flush()
        context.close(promise: nil)
    }

    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            handler.value.flushScheduled = false
            handler.value.flush()
        }
    }

    private func flush() {
        guard let context, output.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        if output.capacity <= 65_536 {
            // Usually written at once, so the storage is ours alone again and is reused (`clear`
            // copies it only when the channel still holds it).
            output.clear()
        } else {
            output = context.channel.allocator.buffer(capacity: 4096)
        }
    }
}
