import NIOConcurrencyHelpers
import Synchronization

/// Links a call's task cancellation to the libpq query that runs for it on a pool thread.
///
/// Cancellation may come before the query starts (it then never starts), while it runs (a cancel
/// request is sent to the server), or after it ended (no request is sent, since the connection may
/// already run another call's statement; but no retry of this call starts either).
final class QueryCancellation: Sendable {
    private enum State {
        case pending
        case running(PostgresCancelHandle)
        case finished
        case cancelled
    }

    private let state = NIOLockedValueBox(State.pending)

    /// Marks a query as running on a connection (the first, or a retry after the previous one
    /// ended); `false` if the call was already cancelled.
    func begin(_ handle: PostgresCancelHandle) -> Bool {
        state.withLockedValue { state in
            switch state {
            case .pending, .finished:
                state = .running(handle)
                return true
            case .running, .cancelled:
                return false
            }
        }
    }

    /// Marks the query as done; later cancellations do nothing.
    func end() {
        state.withLockedValue { state in
            if case .running = state { state = .finished }
        }
    }

    var isCancelled: Bool {
        state.withLockedValue { if case .cancelled = $0 { true } else { false } }
    }

    func cancel() {
        // The cancel request is sent while holding the lock, so `end()` (and the next query on the
        // same connection) waits until it is out: it can only hit this call's query.
        state.withLockedValue { state in
            if case .running(let handle) = state { handle.requestCancel() }
            state = .cancelled
        }
    }
}
