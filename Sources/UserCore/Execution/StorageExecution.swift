/// Where the storage work of a call runs.
///
/// This is the one execution policy: a call's logic is the same either way, and so are its deadline
/// and cancellation (a call past its deadline, or cancelled by its client, is answered at once; work
/// not yet started is skipped and running work is interrupted where the adapter can).
public enum StorageExecution: Sendable {
    /// The work never blocks (the embedded store): it runs at once on the calling thread — the
    /// connection's event loop — and the call is answered there, with no thread hop.
    case inline
    /// The work blocks its thread (libpq, hiredis): it runs on these threads, single calls of a kind
    /// gathered into batches (``StorageCallBatcher``).
    case threads(any BlockingExecutor)

    /// The threads, when the work needs them.
    public var executor: (any BlockingExecutor)? {
        if case .threads(let executor) = self { return executor }
        return nil
    }
}

/// Runs work that blocks its thread on threads set aside for it.
public protocol BlockingExecutor: Sendable {
    /// How many pieces of work run at once.
    var threadCount: Int { get }
    /// Runs `work` on one of the executor's threads, or at once with `false` if the executor has shut down.
    func execute(_ work: @escaping @Sendable (_ isActive: Bool) -> Void)
}
