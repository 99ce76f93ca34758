import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore

/// The batcher that gathers storage calls: every call answered exactly once with its own result,
/// cancelled calls left out, and a batch's work interrupted once nobody waits for it.
@Suite("Storage call batcher")
struct StorageCallBatcherTests {
    /// Runs each piece of work on a new thread.
    struct ThreadExecutor: BlockingExecutor {
        var threadCount: Int { 4 }
        func execute(_ work: @escaping @Sendable (Bool) -> Void) {
            Thread.detachNewThread { work(true) }
        }
    }

    @Test("1,000 calls from many tasks: each answered once, with its own result, in batches")
    func eachCallItsOwnResult() async throws {
        let batchSizes = Locked<[Int]>([])
        let batcher = StorageCallBatcher<Int, String>(executor: ThreadExecutor(), maxBatchSize: 64, maxConcurrentBatches: 2) { items, _ in
            batchSizes.withLock { $0.append(items.count) }
            return (items.map { .success(String($0)) }, nil)
        }
        let answers = await withTaskGroup(of: (Int, String?).self) { group in
            for i in 0..<1_000 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        batcher.submit(i, cancellation: CallCancellation()) { result in
                            continuation.resume(returning: (i, try? result.get()))
                        }
                    }
                }
            }
            return await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
        }
        #expect(answers.count == 1_000)
        #expect(answers.allSatisfy { $0.1 == String($0.0) })
        let sizes = batchSizes.withLock { $0 }
        #expect(sizes.reduce(0, +) == 1_000)
        #expect(sizes.allSatisfy { $0 <= 64 })
    }

    /// Holds work until released, so that a test decides when the first batch starts.
    final class GatedExecutor: BlockingExecutor {
        private let held = Locked<[@Sendable (Bool) -> Void]>([])
        var threadCount: Int { 1 }
        func execute(_ work: @escaping @Sendable (Bool) -> Void) {
            held.withLock { $0.append(work) }
        }
        func release() {
            for work in held.withLock({ held in
                defer { held = [] }
                return held
            }) {
                Thread.detachNewThread { work(true) }
            }
        }
    }

    @Test("a call cancelled before its batch starts is left out; the batch stops once all its calls are cancelled")
    func cancellation() async throws {
        let executor = GatedExecutor()
        let started = AsyncStream.makeStream(of: Int.self)
        let interrupted = Locked(false)
        let batcher = StorageCallBatcher<Int, Int>(executor: executor, maxConcurrentBatches: 1) { items, batchCancellation in
            // Work that waits until it is interrupted, like a statement blocked on a lock. The
            // interruption itself is what the test looks for; the long bound only keeps a broken
            // batcher from hanging the suite (a loaded machine can hold this thread for seconds).
            let gate = DispatchSemaphore(value: 0)
            _ = batchCancellation.begin {
                interrupted.withLock { $0 = true }
                gate.signal()
            }
            started.continuation.yield(items.count)
            _ = gate.wait(timeout: .now() + 300)
            batchCancellation.end()
            return (items.map { _ in .failure(.deadlineExceeded) }, nil)
        }
        let early = CallCancellation()
        early.cancel()
        let calls = (0..<3).map { _ in CallCancellation() }
        let results = Locked<[UserError]>([])
        let finished = AsyncStream.makeStream(of: Void.self)
        for cancellation in [early] + calls {
            batcher.submit(0, cancellation: cancellation) { result in
                if case .failure(let error) = result { results.withLock { $0.append(error) } }
                finished.continuation.yield()
            }
        }
        executor.release()  // all four are queued: the first batch takes them all
        var sizes = started.stream.makeAsyncIterator()
        #expect(await sizes.next() == 3, "the cancelled call is not in the batch")
        for cancellation in calls { cancellation.cancel() }
        var done = finished.stream.makeAsyncIterator()
        for _ in 0..<4 { _ = await done.next() }
        #expect(interrupted.withLock { $0 }, "the batch's work was interrupted when its last call was cancelled")
        let errors = results.withLock { $0 }
        #expect(errors.filter { $0 == .cancelled }.count == 1)
        #expect(errors.filter { $0 == .deadlineExceeded }.count == 3)
    }
}

/// State shared by the closures of a test, behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    init(_ value: Value) { box = NIOLockedValueBox(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { box.withLockedValue { body(&$0) } }
}
