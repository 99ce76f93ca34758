import UserRPCWire

/// The life of the client's end of a connection, as events in and actions out (the server's end has
/// its own, `ServerConnectionStateMachine`): it decides when the connection stops taking calls, when
/// it closes, and with which error the calls still waiting fail.
///
/// ```
/// active ──goaway──▶ draining ──last answer──▶ closed
///    └──────── failure, or the server closed ──────▲
/// ```
struct ClientConnectionStateMachine {
    enum State {
        /// Takes new calls.
        case active
        /// The server sent goaway: calls in flight are answered, new calls go to a new connection.
        case draining
        /// Ended; new calls fail with this error.
        case closed(UserRPCError)
    }

    enum Action {
        case none
        /// Stop giving this connection new calls (the client opens a new one for the next call).
        case retire
        /// Close the connection (nothing is waiting any more).
        case close
        /// Retire the connection and fail every call still waiting with the error.
        case retireAndFailCalls(UserRPCError)
    }

    private(set) var state = State.active

    /// Why a new call cannot be sent on this connection, or `nil` when it can.
    var refusal: UserRPCError? {
        switch state {
        case .active, .draining: nil
        case .closed(let error): error
        }
    }

    /// The server sent goaway.
    mutating func goawayReceived(callsWaiting: Bool) -> Action {
        guard case .active = state else { return .none }
        state = .draining
        return callsWaiting ? .retire : .close
    }

    /// A call was answered or ended here (deadline, cancel).
    mutating func callEnded(callsWaiting: Bool) -> Action {
        guard case .draining = state, !callsWaiting else { return .none }
        return .close
    }

    /// The connection failed or closed: the first error is the one every waiting call gets.
    mutating func failed(_ error: UserRPCError) -> Action {
        if case .closed = state { return .none }
        state = .closed(error)
        return .retireAndFailCalls(error)
    }
}
