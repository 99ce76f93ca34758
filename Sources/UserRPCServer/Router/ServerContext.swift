import Logging
import NIOCore
import UserRPCWire

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
    /// The call's request id (``RequestIDInterceptor``), carried by every log line about the call.
    public var requestID: String? {
        get { requestIDValue?.text }
        set { requestIDValue = newValue.map(RequestID.init(given:)) }
    }
    /// The same, as the response writes it (a generated id becomes text only if something asks for it).
    @usableFromInline var requestIDValue: RequestID?
    /// The client's W3C `traceparent` metadata, when well-formed; carried by the call's log lines.
    public var traceparent: String?
    /// When the call's frame was read, on the connection's event-loop clock (a call's latency counts from it).
    public let receivedAt: NIODeadline
    /// The route's position among the server's sorted method names, or -1 for a method it does not host.
    var routeIndex = -1
    /// Where a server-streaming call's messages go; `nil` for a unary call.
    var streamSink: ServerStreamSink?
    /// The connection's logger, shared by its calls (a reference: a call copies no logger).
    private var connectionLogger: SharedLogger

    public init(
        callID: UInt64, method: String, requestMetadata: [String: String], deadline: NIODeadline, receivedAt: NIODeadline = .now(),
        logger: Logger
    ) {
        self.init(
            callID: callID, method: method, requestMetadata: requestMetadata, deadline: deadline, receivedAt: receivedAt,
            logger: SharedLogger(logger))
    }

    init(
        callID: UInt64, method: String, requestMetadata: [String: String], deadline: NIODeadline, receivedAt: NIODeadline, logger: SharedLogger
    ) {
        self.callID = callID
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.receivedAt = receivedAt
        self.connectionLogger = logger
    }

    /// A logger held by reference, made once per connection for all its calls.
    final class SharedLogger: Sendable {
        let logger: Logger

        init(_ logger: Logger) {
            self.logger = logger
        }
    }

    /// The logger for lines about this call: the connection's, with the call's `request_id` and
    /// `traceparent` added (only when something is logged, so a call that logs nothing pays nothing).
    public var logger: Logger {
        get {
            guard requestIDValue != nil || traceparent != nil else { return connectionLogger.logger }
            var logger = connectionLogger.logger
            if let requestID { logger[metadataKey: "request_id"] = "\(requestID)" }
            if let traceparent { logger[metadataKey: "traceparent"] = "\(traceparent)" }
            return logger
        }
        set { connectionLogger = SharedLogger(newValue) }
    }

    /// The service part of ``method`` (`user.v1.UserService`).
    public var service: Substring {
        method.firstIndex(of: "/").map { method[..<$0] } ?? method[...]
    }
}
