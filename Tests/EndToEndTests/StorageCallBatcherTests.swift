import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore
import UserRPCWire

@testable import UserRPCServer

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
        let batchSizes = NIOLockedValueBox<[Int]>([])
        let batcher = StorageCallBatcher<Int>(executor: ThreadExecutor(), maxBatchSize: 64, maxConcurrentBatches: 2) { items, _ in
            batchSizes.withLockedValue { $0.append(items.count) }
            return (items.map { CallResult.ok(Array(String($0).utf8)) }, {})
        }
        let answers = await withTaskGroup(of: (Int, [UInt8]?).self) { group in
            for i in 0..<1_000 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        batcher.submit(i, cancellation: CallCancellation()) { result in
                            guard case .json(let bytes)? = result.payload else { return continuation.resume(returning: (i, nil)) }
                            continuation.resume(returning: (i, bytes))
                        }
                    }
                }
            }
            return await group.reduce(into: [(Int, [UInt8]?)]()) { $0.append($1) }
        }
        #expect(answers.count == 1_000)
        #expect(answers.allSatisfy { $0.1 == Array(String($0.0).utf8) })
        let sizes = batchSizes.withLockedValue { $0 }
        #expect(sizes.reduce(0, +) == 1_000)
        #expect(sizes.allSatisfy { $0 <= 64 })
    }

    /// Holds work until released, so that a test decides when the first batch starts.
    final class GatedExecutor: BlockingExecutor {
        private let held = NIOLockedValueBox<[@Sendable (Bool) -> Void]>([])
        var threadCount: Int { 1 }
        func execute(_ work: @escaping @Sendable (Bool) -> Void) {
            held.withLockedValue { $0.append(work) }
        }
        func release() {
            for work in held.withLockedValue({ held in
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
        let interrupted = NIOLockedValueBox(false)
        let batcher = StorageCallBatcher<Int>(executor: executor, maxConcurrentBatches: 1) { items, batchCancellation in
            // Work that waits until it is interrupted, like a statement blocked on a lock.
            let gate = DispatchSemaphore(value: 0)
            _ = batchCancellation.begin { gate.signal() }
            started.continuation.yield(items.count)
            let wasInterrupted = gate.wait(timeout: .now() + 10) == .success
            interrupted.withLockedValue { $0 = wasInterrupted }
            batchCancellation.end()
            return (items.map { _ in CallResult.failed(RPCStatus(code: .deadlineExceeded)) }, {})
        }
        let early = CallCancellation()
        early.cancel()
        let calls = (0..<3).map { _ in CallCancellation() }
        let results = NIOLockedValueBox<[RPCStatus.Code]>([])
        let finished = AsyncStream.makeStream(of: Void.self)
        for cancellation in [early] + calls {
            batcher.submit(0, cancellation: cancellation) { result in
                results.withLockedValue { $0.append(result.status.code) }
                finished.continuation.yield()
            }
        }
        executor.release()  // all four are queued: the first batch takes them all
        var sizes = started.stream.makeAsyncIterator()
        #expect(await sizes.next() == 3, "the cancelled call is not in the batch")
        for cancellation in calls { cancellation.cancel() }
        var done = finished.stream.makeAsyncIterator()
        for _ in 0..<4 { _ = await done.next() }
        #expect(interrupted.withLockedValue { $0 })
        #expect(
            results.withLockedValue { $0.sorted { $0.rawValue < $1.rawValue } } == [
                .cancelled, .deadlineExceeded, .deadlineExceeded, .deadlineExceeded,
            ])
    }
}
