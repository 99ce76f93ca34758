import Testing
import UserRPCWire

@testable import UserRPCClient

/// The client end's life: goaway drains it, the last answer closes it, a failure fails every call once.
@Suite("Client connection state machine")
struct ClientConnectionStateMachineTests {
    @Test("goaway with calls waiting retires the connection; the last answer closes it")
    func goawayThenDrain() {
        var machine = ClientConnectionStateMachine()
        guard case .retire = machine.goawayReceived(callsWaiting: true) else {
            Issue.record("goaway did not retire")
            return
        }
        #expect(machine.refusal == nil, "calls already sent still get their answers")
        guard case .none = machine.callEnded(callsWaiting: true) else {
            Issue.record("closed with calls waiting")
            return
        }
        guard case .close = machine.callEnded(callsWaiting: false) else {
            Issue.record("not closed after the last answer")
            return
        }
    }

    @Test("goaway with nothing waiting closes at once; a second goaway does nothing")
    func goawayIdle() {
        var machine = ClientConnectionStateMachine()
        guard case .close = machine.goawayReceived(callsWaiting: false) else {
            Issue.record("an idle connection stayed open")
            return
        }
        guard case .none = machine.goawayReceived(callsWaiting: false) else {
            Issue.record("a second goaway acted")
            return
        }
    }

    @Test("a failure fails the waiting calls once, with the first error, and refuses new calls with it")
    func failure() {
        var machine = ClientConnectionStateMachine()
        let first = UserRPCError(code: .unavailable, message: "connection failed")
        guard case .retireAndFailCalls(let error) = machine.failed(first) else {
            Issue.record("no failure action")
            return
        }
        #expect(error == first)
        guard case .none = machine.failed(UserRPCError(code: .unavailable, message: "closed")) else {
            Issue.record("failed twice")
            return
        }
        #expect(machine.refusal == first)
        guard case .none = machine.callEnded(callsWaiting: false) else {
            Issue.record("acted after closing")
            return
        }
    }
}
