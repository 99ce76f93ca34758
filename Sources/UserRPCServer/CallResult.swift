import UserCore
import UserRPCWire

/// What a finished call sends back: a status and, when OK, the payload.
public struct CallResult: Sendable {
    /// An OK call's payload.
    public enum Payload: Sendable {
        /// JSON object text.
        case json([UInt8])
        /// A `user.v1.User`, written straight into the response frame when it is sent.
        case user(UserCore.User)
    }

    public var status: RPCStatus
    /// Sent only when `status` is OK.
    public var payload: Payload?

    public init(status: RPCStatus, payload: Payload? = nil) {
        self.status = status
        self.payload = payload
    }

    public static func ok(_ payload: [UInt8]) -> CallResult { CallResult(status: .ok, payload: .json(payload)) }
    public static func ok(_ user: UserCore.User) -> CallResult { CallResult(status: .ok, payload: .user(user)) }
    public static func failed(_ status: RPCStatus) -> CallResult { CallResult(status: status) }
}

/// How a method serves one call.
public enum CallOutcome: Sendable {
    /// Answered at once, on the event loop: the work cannot block (the embedded store).
    case immediate(CallResult)
    /// Blocking work (a database, a cache) that runs whole on one thread of the executor: one hop
    /// there, one back. The cancellation interrupts it at its deadline or when the client cancels.
    case offloaded(any BlockingExecutor, @Sendable (CallCancellation) -> CallResult)
    /// Blocking work gathered with other calls of its kind and run in batches (see
    /// `StorageCallBatcher`). `submit` queues the call; the completion runs exactly once, on a storage thread.
    case batched(@Sendable (CallCancellation, @escaping @Sendable (CallResult) -> Void) -> Void)
    /// Async work that runs in a task of its own.
    case deferred(@Sendable () async -> CallResult)
}
