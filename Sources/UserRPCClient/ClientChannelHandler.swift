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
    typealias Completion = CallContinuation<Result<ServerFrame, UserRPCError>>

    /// A call whose own task waits for its answer.
    private struct PendingCall {
        let completion: Completion
        let deadline: NIODeadline?
    }

    /// Calls sent together: ids `firstID ..< firstID + count`, answered into `group`.
    private struct PendingGroup {
        let firstID: UInt64
        let count: Int
        let group: any CallGroupMembership
        let deadline: NIODeadline?
    }

    private var context: ChannelHandlerContext?
    /// Server-streaming calls in flight, by id.
    private var streams: [UInt64: ClientStream] = [:]
    #if DEBUG
        private var pending: [UInt64: PendingCall] = [:]
        /// In order of `firstID`, so a member's group is found by binary search: a group costs one
        /// entry, not one per call. Removed when every member is answered.
        private var groups: [PendingGroup] = []
        private var output: ByteBuffer
        private var inbound: InboundFrames
    #else
        // The state below is touched only on the channel's event loop, by this handler's own methods,
        // so in release builds the hottest of it skips the runtime's exclusivity checks (a measurable
        // share of a call's cost); debug builds keep them.
        @exclusivity(unchecked) private var pending: [UInt64: PendingCall] = [:]
        @exclusivity(unchecked) private var groups: [PendingGroup] = []
        @exclusivity(unchecked) private var output: ByteBuffer
        @exclusivity(unchecked) private var inbound: InboundFrames
    #endif
    /// Set for the earliest deadline of the calls in flight.
    private var deadlineTimer = EarliestDeadlineTimer()
    private var flushScheduled = false
    private var machine = ClientConnectionStateMachine()
    private let parser = JSONParser()
    /// Called once when the connection must not take new calls (goaway, close).
    private let onRetire: @Sendable (Subchannel.RetireReason) -> Void
    private var retired = false
    /// Keepalive: when bytes last arrived, the check timer (set while calls wait), and when the
    /// unanswered ping went out.
    private let keepalive: UserRPCClient.Keepalive?
    private var lastReceived: NIODeadline = .uptimeNanoseconds(0)
    private var keepaliveTimer: Scheduled<Void>?
    private var pingSentAt: NIODeadline?
    /// The id of keepalive pings: the last of the id space, which calls never reach.
    static let keepalivePingID = UInt64.max

    init(
        allocator: ByteBufferAllocator, maxFrameBytes: Int, keepalive: UserRPCClient.Keepalive? = nil,
        onRetire: @escaping @Sendable (Subchannel.RetireReason) -> Void
    ) {
        self.output = allocator.buffer(capacity: 4096)
        self.inbound = InboundFrames(maxFrameBytes: maxFrameBytes)
        self.keepalive = keepalive
        self.onRetire = onRetire
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastReceived = context.eventLoop.now
    }

    // MARK: Keepalive

    /// Sets the keepalive check when calls start waiting and none is set.
    private func armKeepalive(context: ChannelHandlerContext) {
        guard let keepalive, keepaliveTimer == nil else { return }
        scheduleKeepaliveCheck(at: max(lastReceived, context.eventLoop.now) + keepalive.interval.timeAmount, context: context)
    }

    private func scheduleKeepaliveCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepaliveTimer = context.eventLoop.scheduleTask(deadline: deadline) { handler.value.keepaliveCheck() }
    }

    /// Silence with calls waiting: ping, then give the connection up if the silence lasts.
    private func keepaliveCheck() {
        keepaliveTimer = nil
        guard let context, let keepalive, machine.refusal == nil, !pending.isEmpty || !groups.isEmpty || !streams.isEmpty else {
            pingSentAt = nil
            return
        }
        let now = context.eventLoop.now
        if let sent = pingSentAt {
            if lastReceived >= sent {
                pingSentAt = nil
            } else if now >= sent + keepalive.timeout.timeAmount {
                pingSentAt = nil
                let seconds = Double(keepalive.timeout.timeAmount.nanoseconds) / 1e9
                fail(
                    UserRPCError(
                        code: .unavailable,
                        message: "the server did not answer a keepalive ping within \(seconds) s: it or the network is down"))
                context.close(promise: nil)
                return
            } else {
                return scheduleKeepaliveCheck(at: sent + keepalive.timeout.timeAmount, context: context)
            }
        }
        let quietUntil = lastReceived + keepalive.interval.timeAmount
        if now < quietUntil { return scheduleKeepaliveCheck(at: quietUntil, context: context) }
        ClientFrame.writeControl("ping", id: Self.keepalivePingID, into: &output)
        flush()
        pingSentAt = now
        scheduleKeepaliveCheck(at: now + keepalive.timeout.timeAmount, context: context)
    }

    /// Sends one frame (length prefix and body) and completes `completion` with the matching response (or pong).
    func start(id: UInt64, frame: ByteBuffer, timeout: Duration?, completion: Completion) {
        guard let context, machine.refusal == nil else {
            completion.resume(returning: .failure(machine.refusal ?? UserRPCError(code: .unavailable, message: "connection is closed")))
            return
        }
        let deadline = timeout.map { context.eventLoop.now + $0.timeAmount }
        pending[id] = PendingCall(completion: completion, deadline: deadline)
        if let deadline { armDeadlineTimer(at: deadline, context: context) }
        if keepalive != nil { armKeepalive(context: context) }
        var frame = frame
        output.writeBuffer(&frame)
        scheduleFlush()
    }

    /// Sends the request of a server-streaming call; its messages and its end go to `stream`.
    func startStream(id: UInt64, frame: ByteBuffer, stream: ClientStream) {
        guard let context, machine.refusal == nil else {
            stream.finish(.failure(machine.refusal ?? UserRPCError(code: .unavailable, message: "connection is closed")))
            return
        }
        streams[id] = stream
        if keepalive != nil { armKeepalive(context: context) }
        var frame = frame
        output.writeBuffer(&frame)
        scheduleFlush()
    }

    /// The loop took messages of stream `id`: the server may send `add` more.
    func grantCredit(id: UInt64, add: UInt64) {
        guard streams[id] != nil, machine.refusal == nil else { return }
        ClientFrame.writeCredit(id: id, add: add, into: &output)
        scheduleFlush()
    }

    /// Writes what is waiting now (before the connection is closed: a cancel written just before
    /// must reach the server).
    func flushPending() {
        flush()
    }

    /// The loop stopped reading stream `id` before its end: the server is told to end it.
    func cancelStream(id: UInt64) {
        guard streams.removeValue(forKey: id) != nil else { return }
        sendCancel(id: id)
        closeIfDrained()
    }

    /// Sends calls `firstID ..< firstID + count` in one write, their frames written straight into the
    /// outgoing buffer by `writeFrames`; `group` collects their answers.
    func start(
        firstID: UInt64, count: Int, timeout: Duration?, group: any CallGroupMembership, writeFrames: (inout ByteBuffer) -> Void
    ) {
        guard let context, machine.refusal == nil else {
            let error = machine.refusal ?? UserRPCError(code: .unavailable, message: "connection is closed")
            for index in 0..<count { group.finish(index, .failure(error)) }
            return
        }
        let deadline = timeout.map { context.eventLoop.now + $0.timeAmount }
        let entry = PendingGroup(firstID: firstID, count: count, group: group, deadline: deadline)
        // Ids are handed out in increasing order, so a group almost always goes last; one whose
        // caller was overtaken on its way here goes in its place.
        if let last = groups.last, last.firstID > firstID {
            groups.insert(entry, at: firstGroup(startingAfter: firstID))
        } else {
            groups.append(entry)
        }
        writeFrames(&output)
        if let deadline { armDeadlineTimer(at: deadline, context: context) }
        if keepalive != nil { armKeepalive(context: context) }
        scheduleFlush()
    }

    /// The position in `groups` of the group that call `id` belongs to.
    private func groupPosition(of id: UInt64) -> Int? {
        // The group before the first one that starts after `id` is the only candidate.
        let after = firstGroup(startingAfter: id)
        guard after > 0 else { return nil }
        let candidate = groups[after - 1]
        return id &- candidate.firstID < UInt64(candidate.count) ? after - 1 : nil
    }

    /// The position of the first group whose first id is greater than `id` (binary search).
    private func firstGroup(startingAfter id: UInt64) -> Int {
        var low = 0
        var high = groups.count
        while low < high {
            let middle = (low + high) / 2
            if groups[middle].firstID > id { high = middle } else { low = middle + 1 }
        }
        return low
    }

    private func removeGroupIfAnswered(at position: Int) {
        if groups[position].group.isComplete { groups.remove(at: position) }
    }

    /// Gives call `id` its answer from the general decoder; a call already answered here is left alone.
    private func answer(id: UInt64, _ result: Result<ServerFrame, UserRPCError>) {
        if let position = groupPosition(of: id) {
            let entry = groups[position]
            entry.group.finish(Int(id &- entry.firstID), result)
            removeGroupIfAnswered(at: position)
        } else if let call = pending.removeValue(forKey: id) {
            call.completion.resume(returning: result)
        }
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
        var due: [UInt64] = []
        for (id, call) in pending {
            if let deadline = call.deadline, sweep.isDue(deadline) { due.append(id) }
        }
        for entry in groups {
            guard let deadline = entry.deadline, sweep.isDue(deadline) else { continue }
            for index in 0..<entry.count where !entry.group.isAnswered(index) { due.append(entry.firstID &+ UInt64(index)) }
        }
        for id in due { end(id: id, with: UserRPCError(code: .deadlineExceeded, message: "deadline exceeded")) }
        if let next = sweep.next { armDeadlineTimer(at: next, context: context) }
    }

    /// The calling task was cancelled: answer CANCELLED now and tell the server.
    func cancel(id: UInt64) {
        end(id: id, with: UserRPCError(code: .cancelled, message: "call cancelled"))
    }

    /// The task waiting for a group was cancelled: every member not yet answered ends as CANCELLED.
    func cancel(group: any CallGroupMembership) {
        guard let entry = groups.first(where: { $0.group === group }) else { return }
        for index in 0..<entry.count where !entry.group.isAnswered(index) {
            cancel(id: entry.firstID &+ UInt64(index))
        }
    }

    /// Answers call `id` here with `error` (cancelled, or past its deadline) and tells the server to
    /// stop working on it; a call already answered is left alone.
    private func end(id: UInt64, with error: UserRPCError) {
        if let position = groupPosition(of: id) {
            let entry = groups[position]
            let index = Int(id &- entry.firstID)
            guard !entry.group.isAnswered(index) else { return }
            entry.group.finish(index, .failure(error))
            removeGroupIfAnswered(at: position)
        } else if let call = pending.removeValue(forKey: id) {
            call.completion.resume(returning: .failure(error))
        } else {
            return
        }
        sendCancel(id: id)
        closeIfDrained()
    }

    /// A message of the stream of call `id` (one this client no longer reads is dropped).
    private func deliverStreamMessage(id: UInt64, payload: JSONObject) {
        streams[id]?.receive(payload)
    }

    private func sendCancel(id: UInt64) {
        guard machine.refusal == nil else { return }
        ClientFrame.writeControl("cancel", id: id, into: &output)
        scheduleFlush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if keepalive != nil { lastReceived = context.eventLoop.now }
        var bytes = unwrapInboundIn(data)
        inbound.append(&bytes)
        // Every answer in these bytes arrived now.
        let readAt = ContinuousClock.now
        do {
            while let frame = try inbound.next() {
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
    }

    /// The scanned metadata of a response as a dictionary (its values are plain strings).
    private static func metadata(_ scanned: ScannedPayload, in bytes: UnsafeRawBufferPointer) -> [String: String] {
        var metadata: [String: String] = [:]
        for index in 0..<scanned.count {
            let member = scanned[index]
            metadata[String(decoding: UnsafeRawBufferPointer(rebasing: bytes[member.key]), as: UTF8.self)] = String(
                decoding: UnsafeRawBufferPointer(rebasing: bytes[member.value]), as: UTF8.self)
        }
        return metadata
    }

    /// Answers the call a frame is for; returns `false` when the frame is malformed and the connection
    /// must close.
    private func handleFrame(_ frame: ByteBuffer, readAt: ContinuousClock.Instant) -> Bool {
        let decoded = frame.withUnsafeReadableBytes { bytes in
            // The common case, an OK response: its envelope is scanned, and a call of a group reads
            // its payload straight from the bytes.
            if let ok = ResponseFrameScanner.scanOK(bytes) {
                let payload = UnsafeRawBufferPointer(rebasing: bytes[ok.payload])
                if let position = groupPosition(of: ok.id) {
                    let entry = groups[position]
                    let finished = entry.group.finishOK(
                        Int(ok.id &- entry.firstID), payload: payload, metadata: { Self.metadata(ok.metadata, in: bytes) }, parser: parser,
                        answeredAt: readAt)
                    if finished {
                        removeGroupIfAnswered(at: position)
                        return Result<ServerFrame?, ServerFrameError>.success(nil)
                    }
                } else if let call = pending.removeValue(forKey: ok.id) {
                    if case .object(let object)? = try? parser.parse(payload) {
                        let message = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[ok.message]), as: UTF8.self)
                        let response = ResponseEnvelope(id: ok.id, status: RPCStatus(code: .ok, message: message), payload: object)
                        call.completion.resume(returning: .success(.response(response)))
                        return .success(nil)
                    }
                    pending[ok.id] = call
                } else if let stream = streams.removeValue(forKey: ok.id) {
                    // The end of a stream.
                    stream.finish(.success(()))
                    return .success(nil)
                } else {
                    // A response for a call already answered here (cancelled, timed out) is dropped.
                    return .success(nil)
                }
                // The payload is malformed: the general decoder below says how, and the call fails
                // with the connection.
            }
            return Result { () throws(ServerFrameError) in try ServerFrame.decode(bytes, parser: parser) }
        }
        switch decoded {
        case .success(nil):
            closeIfDrained()
        case .success(.goaway?):
            perform(machine.goawayReceived(callsWaiting: !pending.isEmpty || !groups.isEmpty || !streams.isEmpty))
        case .success(let frame?):
            let id: UInt64
            switch frame {
            case .response(let response):
                if let stream = streams.removeValue(forKey: response.id) {
                    stream.finish(response.status.code == .ok ? .success(()) : .failure(UserRPCError(response.status)))
                    closeIfDrained()
                    return true
                }
                id = response.id
            case .pong(let pongID): id = pongID
            case .message(let streamID, let payload):
                deliverStreamMessage(id: streamID, payload: payload)
                return true
            case .goaway: return true
            }
            answer(id: id, .success(frame))
            closeIfDrained()
        case .failure(let error):
            fail(UserRPCError(code: .internal, message: "\(error)"))
            return false
        }
        return true
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepaliveTimer?.cancel()
        keepaliveTimer = nil
        fail(UserRPCError(code: .unavailable, message: "connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(UserRPCError(code: .unavailable, message: ConnectionErrorText.connectionFailure(error)))
        context.close(promise: nil)
    }

    private func fail(_ error: UserRPCError) {
        perform(machine.failed(error))
    }

    private func perform(_ action: ClientConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .retire:
            retire()
        case .close:
            retire()
            guard let context else { return }
            flush()
            context.close(promise: nil)
        case .retireAndFailCalls(let error):
            retire()
            failCalls(with: error)
        }
    }

    /// Every call still waiting fails with `error`.
    private func failCalls(with error: UserRPCError) {
        let calls = pending
        let callGroups = groups
        let openStreams = streams
        pending.removeAll()
        groups.removeAll()
        streams.removeAll()
        deadlineTimer.cancel()
        for stream in openStreams.values { stream.finish(.failure(error)) }
        for call in calls.values {
            call.completion.resume(returning: .failure(error))
        }
        for entry in callGroups {
            for index in 0..<entry.count { entry.group.finish(index, .failure(error)) }
        }
    }

    private func retire() {
        guard !retired else { return }
        retired = true
        if case .draining = machine.state { onRetire(.goaway) } else { onRetire(.closed) }
    }

    private func closeIfDrained() {
        perform(machine.callEnded(callsWaiting: !pending.isEmpty || !groups.isEmpty || !streams.isEmpty))
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
