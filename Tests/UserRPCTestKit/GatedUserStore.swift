import Foundation
import NIOConcurrencyHelpers
import Synchronization
import UserCore

/// A store that may block (it implements only the async port), wrapping the in-memory store.
///
/// Reads of ``gatedID`` suspend until the test opens the gate, and report that they have arrived, so
/// tests of cancellation, deadlines and shutdown can hold a call in flight without sleeping.
public final class GatedUserStore: UserStore {
    public let inner = InMemoryUserStore()
    public let gatedID: UUID
    private let waiters = NIOLockedValueBox<[UUID: CheckedContinuation<Void, Never>]>([:])
    private let arrivals: AsyncStream<Void>.Continuation
    /// One element each time a call reaches the gate.
    public let arrived: AsyncStream<Void>
    private let open = Atomic<Bool>(false)

    public init(gatedID: UUID = UUID.version7()) {
        self.gatedID = gatedID
        (arrived, arrivals) = AsyncStream.makeStream(of: Void.self)
    }

    /// Lets every held call (and later ones) through.
    public func openGate() {
        open.store(true, ordering: .sequentiallyConsistent)
        let held = waiters.withLockedValue { waiters in
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in held { waiter.resume() }
    }

    public func insert(_ user: UserCore.User) async throws(UserError) {
        try inner.insertNow(user)
    }

    public func user(id: UUID) async throws(UserError) -> UserCore.User? {
        if id == gatedID {
            let token = UUID()
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let release = waiters.withLockedValue { waiters -> Bool in
                        if open.load(ordering: .sequentiallyConsistent) || Task.isCancelled { return true }
                        waiters[token] = continuation
                        return false
                    }
                    arrivals.yield()
                    if release { continuation.resume() }
                }
            } onCancel: {
                waiters.withLockedValue { $0.removeValue(forKey: token) }?.resume()
            }
            if Task.isCancelled { throw .deadlineExceeded }
        }
        return try inner.userNow(id: id)
    }

    public func search(_ query: UserSearchQuery) async throws(UserError) -> [UserCore.User] {
        try inner.searchNow(query)
    }
}
