import Dispatch
import Foundation
import NIOConcurrencyHelpers
import UserCore

/// A store that blocks (it runs on threads of its own), wrapping the in-memory store.
///
/// Reads of ``gatedID`` wait until the test opens the gate, or until their call is cancelled (its
/// deadline, a client cancel, shutdown), and report that they have arrived, so tests of
/// cancellation, deadlines and shutdown can hold a call in flight without sleeping.
public final class GatedUserStore: UserStore {
    public let inner = InMemoryUserStore()
    public let gatedID: UUID
    /// Whether the gate is open, and the calls waiting at it.
    private let gate = NIOLockedValueBox<(open: Bool, waiting: [ObjectIdentifier: DispatchSemaphore])>((false, [:]))
    private let arrivals: AsyncStream<Void>.Continuation
    /// One element each time a call reaches the gate.
    public let arrived: AsyncStream<Void>

    public init(gatedID: UUID = UUID(uuidString: "01930000-0000-7000-8000-0000000000ff")!) {
        self.gatedID = gatedID
        (arrived, arrivals) = AsyncStream.makeStream(of: Void.self)
    }

    /// Lets every held call (and later ones) through.
    public func openGate() {
        let held = gate.withLockedValue { gate in
            gate.open = true
            defer { gate.waiting.removeAll() }
            return Array(gate.waiting.values)
        }
        for waiter in held { waiter.signal() }
    }

    public var execution: StorageExecution { .threads(ThreadPerWorkExecutor()) }

    public func pageTokenKey() -> [UInt8] { inner.pageTokenKey() }

    public func insert(_ users: [UserCore.User], cancellation: CallCancellation?) -> [Result<Void, UserError>] {
        inner.insert(users, cancellation: cancellation)
    }

    public func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (UserCore.User) -> Void) throws(UserError) {
        if ids.contains(gatedID) {
            let waiter = DispatchSemaphore(value: 0)
            let key = ObjectIdentifier(waiter)
            let waits = gate.withLockedValue { gate in
                if !gate.open { gate.waiting[key] = waiter }
                return !gate.open
            }
            // The call's cancellation (deadline, client cancel, shutdown) wakes the wait.
            guard cancellation?.begin(onCancel: { waiter.signal() }) ?? true else {
                _ = gate.withLockedValue { $0.waiting.removeValue(forKey: key) }
                throw .deadlineExceeded
            }
            arrivals.yield()
            if waits { waiter.wait() }
            cancellation?.end()
            _ = gate.withLockedValue { $0.waiting.removeValue(forKey: key) }
            if cancellation?.isCancelled == true { throw .deadlineExceeded }
        }
        try inner.users(ids: ids, cancellation: cancellation, found: found)
    }

    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [UserCore.User] {
        try inner.search(query, cancellation: cancellation)
    }

    public func replace(_ current: UserCore.User, with changed: UserCore.User, cancellation: CallCancellation?) throws(UserError) -> UserCore.User {
        try inner.replace(current, with: changed, cancellation: cancellation)
    }

    public func delete(_ user: UserCore.User, cancellation: CallCancellation?) throws(UserError) {
        try inner.delete(user, cancellation: cancellation)
    }
}

/// Runs each piece of blocking work on a thread of its own (for test stores, whose work may wait at
/// a gate for as long as a test needs: a fixed pool could run out of threads).
public struct ThreadPerWorkExecutor: BlockingExecutor {
    public init() {}
    public var threadCount: Int { 8 }
    public func execute(_ work: @escaping @Sendable (Bool) -> Void) {
        Thread.detachNewThread { work(true) }
    }
}

extension UserStore {
    /// Inserts one user, for setting up a test (calls the store on this thread).
    public func insertForTest(_ user: UserCore.User) throws(UserError) {
        try insert([user], cancellation: nil)[0].get()
    }

    /// The user with this id, for checking a test's outcome (calls the store on this thread).
    public func userForTest(id: UUID) throws(UserError) -> UserCore.User? {
        var found: UserCore.User?
        try users(ids: [id], cancellation: nil) { found = $0 }
        return found
    }
}
