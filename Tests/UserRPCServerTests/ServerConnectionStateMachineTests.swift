import NIOCore
import Testing

@testable import UserRPCServer

/// The state machine alone: events in, actions out, time given with each event.
@Suite("Server connection state machine")
struct ServerConnectionStateMachineTests {
    static let configuration = ServerConnectionStateMachine.Configuration(
        idleTimeout: .seconds(300), frameArrival: FrameArrivalRule(initialTimeout: .seconds(10), minimumBytesPerSecond: 1024),
        writeStallTimeout: .seconds(30), closeLinger: .seconds(1), gracePeriod: .seconds(10))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine() -> ServerConnectionStateMachine {
        var machine = ServerConnectionStateMachine(configuration: Self.configuration, now: Self.start)
        _ = machine.activated(now: Self.start)
        return machine
    }

    @Test("the write stall timeout measures the absence of progress, not the size of the backlog")
    func writeStallIsAbsenceOfProgress() {
        var machine = machine()
        var now = Self.start
        #expect(machine.writabilityChanged(isWritable: false, bytesWritten: 0, now: now) == .pauseReading(stallCheckAt: now + .seconds(30)))
        // A slow reader: a little progress in every window keeps the connection, however long it lasts.
        for window in 1...20 {
            now = now + .seconds(30)
            #expect(machine.stallCheckFired(bytesWritten: window * 8192, now: now) == .scheduleStallCheck(at: now + .seconds(30)))
        }
        // No progress in a whole window: closed.
        now = now + .seconds(30)
        #expect(machine.stallCheckFired(bytesWritten: 20 * 8192, now: now) == .closeNow(.writeStalled))
        #expect(machine.state == .closed)
    }

    @Test("resuming writes ends the stall: a late stall check does nothing")
    func resumeEndsStall() {
        var machine = machine()
        _ = machine.writabilityChanged(isWritable: false, bytesWritten: 0, now: Self.start)
        #expect(machine.writabilityChanged(isWritable: true, bytesWritten: 100, now: Self.start + .seconds(1)) == .resumeReading)
        #expect(machine.stallCheckFired(bytesWritten: 100, now: Self.start + .seconds(30)) == .none)
        #expect(machine.state == .active)
    }

    @Test("graceful shutdown: goaway with the grace timer; the linger starts once nothing is in flight")
    func quiesceWithCallsInFlight() {
        var machine = machine()
        machine.callStarted()
        machine.callStarted()
        let now = Self.start + .seconds(5)
        #expect(machine.quiesce(now: now) == .sendGoAway(graceEndsAt: now + .seconds(10), lingerEndsAt: nil))
        #expect(!machine.isAcceptingCalls)
        #expect(machine.callFinished(now: now + .seconds(1)) == .none)
        #expect(machine.callFinished(now: now + .seconds(2)) == .scheduleLingerEnd(at: now + .seconds(3)))
        #expect(machine.lingerEnded(now: now + .seconds(3)) == .closeGracefully)
        #expect(machine.state == .closing)
        // The output is shut once the client has taken everything (however long that takes); then
        // the client has one linger to close, or the connection is closed at once.
        #expect(machine.outputShut(now: now + .seconds(20)) == .scheduleLingerEnd(at: now + .seconds(21)))
        #expect(machine.lingerEnded(now: now + .seconds(21)) == .closeNow(.lingerOver))
    }

    @Test("the linger waits while the client is still reading its answers or still sending, then closes")
    func lingerWaitsForQuiet() {
        var machine = machine()
        var now = Self.start
        _ = machine.quiesce(now: now)
        _ = machine.writabilityChanged(isWritable: false, bytesWritten: 0, now: now)
        now = now + .seconds(1)
        #expect(machine.lingerEnded(now: now) == .scheduleLingerEnd(at: now + .seconds(1)), "closed while reading was paused")
        _ = machine.writabilityChanged(isWritable: true, bytesWritten: 10, now: now)
        machine.received(now: now + .milliseconds(500))
        #expect(machine.lingerEnded(now: now + .seconds(1)) == .scheduleLingerEnd(at: now + .milliseconds(1500)))
        #expect(machine.lingerEnded(now: now + .milliseconds(1500)) == .closeGracefully)
    }

    @Test("the grace period's end closes at once, whatever is in flight")
    func graceEnd() {
        var machine = machine()
        machine.callStarted()
        _ = machine.quiesce(now: Self.start)
        #expect(machine.gracePeriodEnded() == .failCallsAndCloseNow)
        #expect(machine.state == .closed)
        #expect(machine.gracePeriodEnded() == .none)
    }

    @Test("the idle timer gives goaway only to a connection with nothing in flight and nothing arriving; it is not set while calls are in flight")
    func idle() {
        var machine = machine()
        machine.callStarted()
        let late = Self.start + .seconds(300)
        // A call in flight (a stream, quiet for hours): no idle check until it finishes, none polled.
        #expect(machine.idleCheckFired(hasPartialFrame: false, now: late) == .none)
        #expect(machine.callFinished(now: late) == .scheduleIdleCheck(at: late + .seconds(300)))
        machine.callStarted()
        #expect(machine.callFinished(now: late) == .none, "one idle check is set at a time")
        machine.received(now: late)
        #expect(machine.idleCheckFired(hasPartialFrame: false, now: late + .seconds(100)) == .scheduleIdleCheck(at: late + .seconds(300)))
        let idle = late + .seconds(300)
        #expect(
            machine.idleCheckFired(hasPartialFrame: false, now: idle)
                == .sendGoAway(graceEndsAt: idle + .seconds(10), lingerEndsAt: idle + .seconds(1)))
        #expect(machine.state == .draining)
    }

    @Test("a client that closes its side: closed gracefully once its calls are answered")
    func inputClosed() {
        var machine = machine()
        machine.callStarted()
        #expect(machine.inputClosed(now: Self.start) == .none)
        #expect(machine.callFinished(now: Self.start + .seconds(1)) == .closeGracefully)
    }

    @Test("a partial frame is cut off only when it falls below the minimum rate")
    func readTimer() {
        var machine = machine()
        let begun = Self.start
        #expect(
            machine.servedInbound(framesServed: 0, partialFrameBytes: 10, now: begun) == .scheduleReadCheck(at: begun + .nanoseconds(10_009_765_625)))
        // More bytes arrived by the time the timer fires: it is set again for the later time.
        #expect(
            machine.readCheckFired(partialFrameBytes: 4096, now: begun + .nanoseconds(10_009_765_625)) == .scheduleReadCheck(at: begun + .seconds(14))
        )
        #expect(machine.readCheckFired(partialFrameBytes: 4096, now: begun + .seconds(14)) == .closeNow(.readTimeout))
    }
}
