import Logging
import NIOCore

/// What a handler and the interceptors know of one call, and what they may add to its answer.
public struct ServerContext: Sendable {
    /// The call's id on its connection.
    public let callID: UInt64
    /// The full method name the client called (`user.v1.UserService/GetUser`).
    public let method: String
    /// The request's metadata (`authorization`, `x-request-id`, …); empty when it had none.
    public var requestMetadata: [String: String]
    /// Metadata sent back with the answer (OK or not); empty by default.
    public var responseMetadata: [String: String] = [:]
    /// When the call's deadline passes, on the connection's event-loop clock.
    public let deadline: NIODeadline
    /// The connection's logger; interceptors may add metadata (a request id) for the call's log lines.
    public var logger: Logger

    public init(callID: UInt64, method: String, requestMetadata: [String: String], deadline: NIODeadline, logger: Logger) {
        self.callID = callID
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.logger = logger
    }

    /// The service part of ``method`` (`user.v1.UserService`).
    public var service: Substring {
        method.firstIndex(of: "/").map { method[..<$0] } ?? method[...]
    }
}
