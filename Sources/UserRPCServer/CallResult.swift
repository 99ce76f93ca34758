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

/// How a method serves one call: at once, on the event loop (the work cannot block), or as async work
/// that runs in a task of its own (the work may wait on a database).
public enum CallOutcome: Sendable {
    case immediate(CallResult)
    case deferred(@Sendable () async -> CallResult)
}
