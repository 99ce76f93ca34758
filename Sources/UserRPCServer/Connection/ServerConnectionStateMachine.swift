import NIOCore

/// The life of one server connection, as events in and actions out: the connection handler tells it
/// what happened and carries out what it answers (the pattern of grpc-swift-nio-transport's
/// `ServerConnectionManagementHandler+StateMachine` and postgres-nio's `ConnectionStateMachine`).
///
/// It decides every close and every timer of the connection except the calls' own deadlines; it
/// knows nothing of frames or calls beyond how many are in flight. Time comes in with each event
/// (the event loop's clock, a manual one in tests), so it is tested without a channel.
///
/// ```
/// active ──goaway (shutdown, idle)──▶ draining ──last answer + linger, or client closed──▶ closing ──▶ closed
///   └──────────── protocol error, client closed when idle ──────────────────────────────────▲  │
///   └──────────── read timeout, write stall, grace period over ──────────────────────────────────┘ (at once)
/// ```
struct ServerConnectionStateMachine {
    struct Configuration {
        /// A connection with no call in flight and nothing received for this long gets goaway.
        var idleTimeout: TimeAmount
        /// How long a started frame may take (``FrameArrivalRule``).
        var frameArrival: FrameArrivalRule
        /// How long the client may take nothing of its responses while reading is paused.
        var writeStallTimeout: TimeAmount
        /// After goaway, once nothing is in flight: how long the connection stays open to answer
        /// requests that crossed the goaway (UNAVAILABLE); after the output is shut: how long to wait
        /// for the client to close.
        var closeLinger: TimeAmount
        /// From goaway for a graceful shutdown to the forced close.
        var gracePeriod: TimeAmount
    }

    enum State: Hashable {
        /// Serving calls.
        case active
        /// Goaway sent: new calls are answered UNAVAILABLE; calls in flight finish.
        case draining
        /// Everything is answered and the output is (being) shut: waiting for the client to close.
        case closing
        case closed
    }

    /// Why the connection closes at once.
    enum AbortReason: Hashable {
        /// A started frame did not keep the minimum data rate.
        case readTimeout
        /// The client took none of its responses for the write stall timeout.
        case writeStalled
        /// The client did not close within the linger after the server shut its output.
        case lingerOver
    }

    enum Action: Hashable {
        case none
        /// Set the read timer (unless one is already set earlier).
        case scheduleReadCheck(at: NIODeadline)
        case scheduleIdleCheck(at: NIODeadline)
        /// Stop reading; set the stall timer.
        case pauseReading(stallCheckAt: NIODeadline)
        case scheduleStallCheck(at: NIODeadline)
        /// Serve the frames already received, and read again.
        case resumeReading
        /// Send goaway and flush; set the grace timer when given, and the linger timer when given.
        case sendGoAway(graceEndsAt: NIODeadline?, lingerEndsAt: NIODeadline?)
        case scheduleLingerEnd(at: NIODeadline)
        /// Flush what is written and shut the output after it (``outputShut(now:)`` follows once
        /// everything has been written): the client reads everything, then closes.
        case closeGracefully
        /// Close at once (pending output is dropped).
        case closeNow(AbortReason)
        /// The grace period is over: answer every call in flight UNAVAILABLE, flush, close at once.
        case failCallsAndCloseNow
    }

    private let configuration: Configuration
    private(set) var state: State = .active
    private(set) var callsInFlight = 0
    private(set) var readingPaused = false
    private var lastActivity: NIODeadline
    /// When the first byte of the frame now partly received arrived; `nil` when none is.
    private var partialFrameStartedAt: NIODeadline?
    private var readCheckScheduled = false
    /// Whether an idle check is set. None is while calls are in flight (the connection cannot be
    /// idle then); the last call to finish sets one.
    private var idleCheckScheduled = false
    private var inputClosed = false
    /// Bytes the client had taken when reading was paused or the stall timer last fired.
    private var writtenAtLastStallCheck = 0

    init(configuration: Configuration, now: NIODeadline) {
        self.configuration = configuration
        self.lastActivity = now
    }

    /// Whether requests are served (rather than answered UNAVAILABLE).
    var isAcceptingCalls: Bool { state == .active }
    /// Whether frames are read at all (in `closing` they are discarded).
    var isReadingFrames: Bool { state == .active || state == .draining }

    // MARK: Events

    /// The connection is up.
    mutating func activated(now: NIODeadline) -> Action {
        lastActivity = now
        idleCheckScheduled = true
        return .scheduleIdleCheck(at: now + configuration.idleTimeout)
    }

    /// Bytes arrived.
    mutating func received(now: NIODeadline) {
        lastActivity = now
    }

    /// The received bytes were served: `framesServed` complete frames, and `partialFrameBytes` of one
    /// not yet complete.
    mutating func servedInbound(framesServed: Int, partialFrameBytes: Int, now: NIODeadline) -> Action {
        guard partialFrameBytes > 0, isReadingFrames, !readingPaused else {
            if partialFrameBytes == 0 { partialFrameStartedAt = nil }
            return .none
        }
        // A frame that begins where the one before it ended, in this read, starts its own clock.
        if partialFrameStartedAt == nil || framesServed > 0 { partialFrameStartedAt = now }
        guard !readCheckScheduled, let start = partialFrameStartedAt else { return .none }
        readCheckScheduled = true
        return .scheduleReadCheck(at: configuration.frameArrival.deadline(frameStartedAt: start, bytesReceived: partialFrameBytes))
    }

    /// The read timer fired; `partialFrameBytes` of a frame are waiting.
    mutating func readCheckFired(partialFrameBytes: Int, now: NIODeadline) -> Action {
        readCheckScheduled = false
        guard isReadingFrames, !readingPaused, partialFrameBytes > 0, let start = partialFrameStartedAt else { return .none }
        let deadline = configuration.frameArrival.deadline(frameStartedAt: start, bytesReceived: partialFrameBytes)
        if now >= deadline {
            state = .closed
            return .closeNow(.readTimeout)
        }
        readCheckScheduled = true
        return .scheduleReadCheck(at: deadline)
    }

    /// The idle timer fired.
    mutating func idleCheckFired(hasPartialFrame: Bool, now: NIODeadline) -> Action {
        idleCheckScheduled = false
        guard state == .active else { return .none }
        // Not idle while calls are in flight, however quiet (a stream may send nothing for hours):
        // no check until the last one finishes (`callFinished`), rather than one every few ms.
        guard callsInFlight == 0 else { return .none }
        let idleSince = lastActivity
        if !hasPartialFrame, now - idleSince >= configuration.idleTimeout {
            state = .draining
            // The grace period bounds this drain too: a client that keeps sending after the goaway
            // is not kept forever.
            return .sendGoAway(graceEndsAt: now + configuration.gracePeriod, lingerEndsAt: now + configuration.closeLinger)
        }
        let next = max(idleSince + configuration.idleTimeout, now + .milliseconds(10))
        idleCheckScheduled = true
        return .scheduleIdleCheck(at: next)
    }

    /// The server begins a graceful shutdown (NIO's `ChannelShouldQuiesceEvent`).
    mutating func quiesce(now: NIODeadline) -> Action {
        switch state {
        case .active:
            state = .draining
            return .sendGoAway(
                graceEndsAt: now + configuration.gracePeriod, lingerEndsAt: callsInFlight == 0 ? now + configuration.closeLinger : nil)
        case .draining:
            // Already draining after the idle goaway: the grace period still applies.
            return .sendGoAway(graceEndsAt: now + configuration.gracePeriod, lingerEndsAt: nil)
        case .closing, .closed:
            return .none
        }
    }

    /// A call now waits for its answer.
    mutating func callStarted() {
        callsInFlight += 1
    }

    /// A call that waited has been answered (or ended: deadline, cancel).
    mutating func callFinished(now: NIODeadline) -> Action {
        callsInFlight -= 1
        lastActivity = now
        guard callsInFlight == 0 else { return .none }
        if inputClosed, state == .active || state == .draining { return closeGracefully(now: now) }
        if state == .draining { return .scheduleLingerEnd(at: now + configuration.closeLinger) }
        if state == .active, !idleCheckScheduled {
            idleCheckScheduled = true
            return .scheduleIdleCheck(at: now + configuration.idleTimeout)
        }
        return .none
    }

    /// A linger timer fired. A draining connection closes once it has been quiet for the whole
    /// linger: nothing in flight, reading not paused (frames may wait unserved), and nothing received
    /// or answered; otherwise the linger is set again.
    mutating func lingerEnded(now: NIODeadline) -> Action {
        switch state {
        case .draining where callsInFlight == 0:
            if readingPaused { return .scheduleLingerEnd(at: now + configuration.closeLinger) }
            let quietUntil = lastActivity + configuration.closeLinger
            if now < quietUntil { return .scheduleLingerEnd(at: quietUntil) }
            return closeGracefully(now: now)
        case .closing:
            state = .closed
            return .closeNow(.lingerOver)
        default:
            return .none
        }
    }

    /// The client closed its side: no more requests will come.
    mutating func inputClosed(now: NIODeadline) -> Action {
        inputClosed = true
        partialFrameStartedAt = nil
        switch state {
        case .active, .draining:
            return callsInFlight == 0 ? closeGracefully(now: now) : .none
        case .closing:
            state = .closed
            return .closeNow(.lingerOver)
        case .closed:
            return .none
        }
    }

    /// The framing or the envelope of the stream is broken beyond a single call: answer nothing more,
    /// flush what is answered, close.
    mutating func protocolError(now: NIODeadline) -> Action {
        guard state == .active || state == .draining else { return .none }
        return closeGracefully(now: now)
    }

    /// The channel's writability changed; `bytesWritten` is how much of its responses the client
    /// has taken so far.
    mutating func writabilityChanged(isWritable: Bool, bytesWritten: Int, now: NIODeadline) -> Action {
        if !isWritable, !readingPaused, state != .closed {
            readingPaused = true
            // Time spent not reading is the server's choice: it does not count against a frame.
            partialFrameStartedAt = nil
            writtenAtLastStallCheck = bytesWritten
            return .pauseReading(stallCheckAt: now + configuration.writeStallTimeout)
        }
        if isWritable, readingPaused {
            readingPaused = false
            return .resumeReading
        }
        return .none
    }

    /// The stall timer fired: the client must have taken some of its responses since the last check
    /// (a slow reader is fine; one that reads nothing is not).
    mutating func stallCheckFired(bytesWritten: Int, now: NIODeadline) -> Action {
        guard readingPaused, state != .closed else { return .none }
        if bytesWritten > writtenAtLastStallCheck {
            writtenAtLastStallCheck = bytesWritten
            return .scheduleStallCheck(at: now + configuration.writeStallTimeout)
        }
        state = .closed
        return .closeNow(.writeStalled)
    }

    /// The grace period after goaway is over.
    mutating func gracePeriodEnded() -> Action {
        switch state {
        case .active, .draining, .closing:
            state = .closed
            return .failCallsAndCloseNow
        case .closed:
            return .none
        }
    }

    /// The channel closed.
    mutating func closed() {
        state = .closed
    }

    private mutating func closeGracefully(now: NIODeadline) -> Action {
        state = .closing
        return .closeGracefully
    }

    /// Everything written has reached the client's side of the socket and the output is shut: from
    /// now the client has one linger to close. (The time it takes to read its answers does not count:
    /// a slow reader is bounded by the write stall timeout and the grace period, not by this.)
    mutating func outputShut(now: NIODeadline) -> Action {
        guard state == .closing else { return .none }
        return .scheduleLingerEnd(at: now + configuration.closeLinger)
    }
}
