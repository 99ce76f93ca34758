import UserRPCWire

/// How a method's handler answers one call: now, or later.
///
/// An answer given now is written on the connection's event loop at once, in the same pass that read
/// the request — no thread hop, no task: this is how the embedded store answers. Work that must wait
/// (a database on its own threads) answers later, from any thread; the call's deadline and a
/// client's cancel stop it through the function ``PendingAnswer/start`` returns.
public enum ServerAnswer<Response: RPCMessage>: Sendable {
    case now(Result<Response, RPCError>)
    case later(PendingAnswer<Response>)

    /// An OK answer, now.
    public static func ok(_ response: Response) -> ServerAnswer { .now(.success(response)) }

    /// A failed answer, now.
    public static func failed(_ error: RPCError) -> ServerAnswer { .now(.failure(error)) }

    /// An answer computed by async work in a task of its own; the end of the call (deadline, cancel,
    /// shutdown) cancels the task.
    public static func task(_ work: @escaping @Sendable () async throws(RPCError) -> Response) -> ServerAnswer {
        .later(
            PendingAnswer { complete in
                let task = Task {
                    do throws(RPCError) {
                        complete(.success(try await work()))
                    } catch {
                        complete(.failure(error))
                    }
                }
                return { task.cancel() }
            })
    }
}

/// Work that answers a call later, from any thread.
public struct PendingAnswer<Response: Sendable>: Sendable {
    public typealias Completion = @Sendable (Result<Response, RPCError>) -> Void

    /// Starts the work. `complete` must be called exactly once, from any thread. Returns how to stop
    /// the work when the call ends first (deadline, client cancel, shutdown): called at most once,
    /// off the event loop (it may block briefly, as a database cancel request does); the work's
    /// late answer is then dropped.
    public let start: @Sendable (_ complete: @escaping Completion) -> (@Sendable () -> Void)

    public init(start: @escaping @Sendable (_ complete: @escaping Completion) -> (@Sendable () -> Void)) {
        self.start = start
    }
}
