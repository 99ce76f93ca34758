// A call's waiting task is resumed exactly once: by its answer, or by its end in the connection
// handler (deadline, cancellation, a failed connection), whichever takes it out of the handler's
// tables first. Debug builds check that with checked continuations; release builds use unsafe ones,
// which skip the check's bookkeeping on every call.

#if DEBUG
    typealias CallContinuation<T> = CheckedContinuation<T, Never>

    nonisolated(nonsending) func withCallContinuation<T>(_ body: (CallContinuation<T>) -> Void) async -> T {
        await withCheckedContinuation(body)
    }
#else
    typealias CallContinuation<T> = UnsafeContinuation<T, Never>

    nonisolated(nonsending) func withCallContinuation<T>(_ body: (CallContinuation<T>) -> Void) async -> T {
        await withUnsafeContinuation(body)
    }
#endif
