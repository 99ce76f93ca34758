import NowOrLater

/// Gathers single calls of one kind that wait on storage and runs them in batches on the storage's
/// threads.
///
/// A call is queued; while fewer than `maxConcurrentBatches` drains are under way, one more is
/// started. A drain takes up to `maxBatchSize` queued calls at a time and runs them together — the
/// adapters then save round trips (pipelined Redis commands, one SQL statement or a libpq pipeline
/// for all) — until the queue is empty, letting other work for the storage threads (a search) in
/// every few batches. Under load this turns a thread wake-up and three round trips per call into a
/// few per batch.
///
/// Cancellation: a call cancelled (deadline, client) before its batch starts is left out of it; the
/// batch's statement is interrupted once every call in it has been cancelled.
public final class StorageCallBatcher<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Completion = @Sendable (Result<Output, UserError>) -> Void
    /// Serves a batch: one result per item, in order, and work to do once they are answered (filling
    /// a cache), or `nil`.
    public typealias Run = @Sendable ([Item], CallCancellation) -> (results: [Result<Output, UserError>], afterAnswering: (() -> Void)?)

    private struct Entry: Sendable {
        let item: Item
        let cancellation: CallCancellation
        let complete: Completion
    }

    private struct Queue {
        var entries: [Entry] = []
        var draining = 0
    }

    // A pthread lock, which Thread Sanitizer understands (it does not see `Synchronization.Mutex`'s
    // futex on Linux, and reports races that are not there).
    private let queue = ReadWriteLocked(Queue())
    private let executor: any BlockingExecutor
    private let maxBatchSize: Int
    private let maxConcurrentBatches: Int
    private let run: Run

    public init(executor: any BlockingExecutor, maxBatchSize: Int = 64, maxConcurrentBatches: Int, run: @escaping Run) {
        self.executor = executor
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxConcurrentBatches = max(1, maxConcurrentBatches)
        self.run = run
    }

    /// One call's answer, later: queued when the answer is asked for, and left out of its batch (or
    /// its batch interrupted) when the asker stops waiting.
    public func answer(_ item: Item) -> Answer<Output, UserError> {
        .later(
            .init { complete in
                let cancellation = CallCancellation()
                self.submit(item, cancellation: cancellation, complete: complete)
                return cancellation.cancel
            })
    }

    /// Queues one call; `complete` is called exactly once, on a storage thread.
    public func submit(_ item: Item, cancellation: CallCancellation, complete: @escaping Completion) {
        let startsDrain = queue.write { queue in
            queue.entries.append(Entry(item: item, cancellation: cancellation, complete: complete))
            guard queue.draining < maxConcurrentBatches else { return false }
            queue.draining += 1
            return true
        }
        if startsDrain {
            executor.execute { [self] isActive in drain(isActive: isActive) }
        }
    }

    /// The answer to work the storage threads no longer take.
    static var shuttingDown: UserError { .unavailable("the server is shutting down") }

    /// Serves batches until the queue is empty; after `batchesPerTurn` of them it queues itself again
    /// behind whatever other work waits for the storage threads (a search), so that a steady stream
    /// of batches never starves it.
    private func drain(isActive: Bool) {
        for _ in 0..<Self.batchesPerTurn {
            let batch: [Entry] = queue.write { queue in
                guard !queue.entries.isEmpty else {
                    queue.draining -= 1
                    return []
                }
                let count = min(maxBatchSize, queue.entries.count)
                let batch = Array(queue.entries.prefix(count))
                queue.entries.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            if isActive {
                runBatch(batch)
            } else {
                for entry in batch { entry.complete(.failure(Self.shuttingDown)) }
            }
        }
        executor.execute { [self] isActive in drain(isActive: isActive) }
    }

    private static var batchesPerTurn: Int { 8 }

    private func runBatch(_ batch: [Entry]) {
        // The batch's work is interrupted when no call in it still waits for it.
        let batchCancellation = CallCancellation()
        let waiting = ReadWriteLocked(batch.count)
        let oneLess: @Sendable () -> Void = {
            let none = waiting.write { count in
                count -= 1
                return count == 0
            }
            if none { batchCancellation.cancel() }
        }
        var live: [Entry] = []
        live.reserveCapacity(batch.count)
        for entry in batch {
            if entry.cancellation.begin(onCancel: oneLess) {
                live.append(entry)
            } else {
                // Already answered by the connection (deadline, cancel): nothing to do for it.
                oneLess()
                entry.complete(.failure(.cancelled))
            }
        }
        guard !live.isEmpty else { return }
        let (results, afterAnswering) = run(live.map(\.item), batchCancellation)
        for (entry, result) in zip(live, results) {
            entry.cancellation.end()
            entry.complete(result)
        }
        afterAnswering?()
    }
}

/// Runs blocking work whole on one thread of an executor: one hop there, one back.
extension BlockingExecutor {
    /// `work`'s answer, later: run on one of the threads when the answer is asked for; a `stop`
    /// before it starts skips it, and one while it runs cancels its `CallCancellation`.
    public func answer<Output: Sendable>(
        _ work: @escaping @Sendable (CallCancellation) -> Result<Output, UserError>
    ) -> Answer<Output, UserError> {
        .later(
            .init { complete in
                let cancellation = CallCancellation()
                self.run(cancellation: cancellation, complete: complete, work)
                return cancellation.cancel
            })
    }

    /// `work` on one of the threads, its result handed to `complete`; UNAVAILABLE when the executor
    /// has shut down, and nothing run when `cancellation` was cancelled before it started.
    public func run<Output: Sendable>(
        cancellation: CallCancellation, complete: @escaping @Sendable (Result<Output, UserError>) -> Void,
        _ work: @escaping @Sendable (CallCancellation) -> Result<Output, UserError>
    ) {
        execute { isActive in
            guard isActive else { return complete(.failure(StorageCallBatcher<Int, Int>.shuttingDown)) }
            guard !cancellation.isCancelled else { return complete(.failure(.cancelled)) }
            complete(work(cancellation))
        }
    }
}
