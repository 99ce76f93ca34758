import UserCore
import UserRPCWire

/// What a finished call sends back: a status and, when OK, the payload as encoded JSON.
public struct CallResult: Sendable {
    public var status: RPCStatus
    /// JSON object text; sent only when `status` is OK.
    public var payload: [UInt8]?

    public init(status: RPCStatus, payload: [UInt8]? = nil) {
        self.status = status
        self.payload = payload
    }

    public static func ok(_ payload: [UInt8]) -> CallResult { CallResult(status: .ok, payload: payload) }
    public static func failed(_ status: RPCStatus) -> CallResult { CallResult(status: status) }
}

/// How a method serves one call.
public enum CallOutcome: Sendable {
    /// Answered at once, on the event loop: the work cannot block (the embedded store).
    case immediate(CallResult)
    /// Blocking work (a database, a cache) that runs whole on one thread of the executor: one hop
    /// there, one back. The cancellation interrupts it at its deadline or when the client cancels.
    case offloaded(any BlockingExecutor, @Sendable (CallCancellation) -> CallResult)
    /// Async work that runs in a task of its own.
    case deferred(@Sendable () async -> CallResult)
}
