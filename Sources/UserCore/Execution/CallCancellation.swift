/// Links the cancellation of a call (its deadline passed, or the client cancelled it) to blocking
/// work that runs for it on another thread, such as a database statement.
///
/// Cancellation may come before the work starts (it then never starts), while a step runs (that
/// step's `onCancel` runs: for a database, a cancel request), or between steps (nothing runs, and no
/// later step starts). Thread-safe.
public final class CallCancellation: Sendable {
    private enum State {
        case idle
        case running(@Sendable () -> Void)
        case cancelled
    }

    private let state = ReadWriteLocked(State.idle)

    public init() {}

    /// Marks a step as running; `onCancel` is how to interrupt it. Returns `false`, and runs
    /// nothing, if the call is already cancelled.
    public func begin(onCancel: @escaping @Sendable () -> Void) -> Bool {
        state.write { state in
            switch state {
            case .idle:
                state = .running(onCancel)
                return true
            case .running, .cancelled:
                return false
            }
        }
    }

    /// Marks the running step as done; a later cancellation no longer interrupts it.
    public func end() {
        state.write { state in
            if case .running = state { state = .idle }
        }
    }

    public var isCancelled: Bool {
        state.read { if case .cancelled = $0 { true } else { false } }
    }

    /// Cancels the call. A running step is interrupted while the lock is held, so `end()` — and the
    /// next use of the same connection by another call — waits until the interruption is out.
    public func cancel() {
        state.write { state in
            if case .running(let onCancel) = state { onCancel() }
            state = .cancelled
        }
    }
}
