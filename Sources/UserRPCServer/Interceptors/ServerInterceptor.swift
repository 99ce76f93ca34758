import UserRPCWire

/// Cross-cutting work around every call — authentication, request ids, metrics, logs — kept out of
/// the handlers.
///
/// The model is gRPC Swift 2's `ServerInterceptor`, in two steps instead of one wrapping call, because
/// calls here are answered synchronously on the event loop (wrapping an answer given now would cost
/// an allocation per call): ``willRun(_:)`` before the handler, in the order the interceptors were
/// given, and ``didAnswer(_:code:)`` once the call is answered, whichever way.
public protocol ServerInterceptor: Sendable {
    /// Runs before the handler. It may read the request's metadata and add response metadata or log
    /// metadata; returning an error answers the call with it instead (the handler and the later
    /// interceptors do not run).
    func willRun(_ context: inout ServerContext) -> RPCError?
    /// Runs once the call has been answered, with the answer's code: for every call whose frame was
    /// read as a request, including those refused before any handler ran.
    func didAnswer(_ context: ServerContext, code: RPCStatus.Code)
    /// Runs for a call that began but will never be answered: its connection closed (the client
    /// went away, or the connection was aborted) while the call was in flight.
    func didAbandon(_ context: ServerContext)
}

extension ServerInterceptor {
    public func willRun(_ context: inout ServerContext) -> RPCError? { nil }
    public func didAnswer(_ context: ServerContext, code: RPCStatus.Code) {}
    public func didAbandon(_ context: ServerContext) {}
}
