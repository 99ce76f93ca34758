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

    /// The answer to work the storage threads no longer take.
    static let shuttingDown = failed(RPCStatus(code: .unavailable, message: "the server is shutting down"))
}

/// How a method serves one call.
public enum CallOutcome: Sendable {
    /// Answered at once, on the event loop: the work cannot block (the embedded store).
    case immediate(CallResult)
    /// Blocking work (a database, a cache) for the storage threads: `submit` hands it over — alone
    /// (``offloaded(to:_:)``) or gathered with other calls of its kind in a `StorageCallBatcher` — and
    /// the completion runs exactly once, on a storage thread. The cancellation interrupts the work
    /// at the call's deadline or when the client cancels.
    case blocking(submit: @Sendable (CallCancellation, @escaping @Sendable (CallResult) -> Void) -> Void)
    /// Async work that runs in a task of its own.
    case deferred(@Sendable () async -> CallResult)

    /// Blocking work that runs whole on one thread of `executor`: one hop there, one back.
    public static func offloaded(to executor: any BlockingExecutor, _ work: @escaping @Sendable (CallCancellation) -> CallResult) -> CallOutcome {
        .blocking { cancellation, complete in
            executor.execute { isActive in
                complete(isActive ? work(cancellation) : .shuttingDown)
            }
        }
    }
}
