import NowOrLater
import UserRPCWire

/// How a method's handler answers one call: ``NowOrLater/Answer``, its failure an ``RPCError``.
///
/// An answer given now is written on the connection's event loop at once, in the same pass that read
/// the request — no thread hop, no task: this is how the embedded store answers. Work that must wait
/// (a database on its own threads) answers later, from any thread; the call's deadline and a client's
/// cancel stop it through the function its ``NowOrLater/Answer/Pending/start`` returns.
public typealias ServerAnswer<Response: RPCMessage> = Answer<Response, RPCError>

extension Answer where Failure == RPCError {
    /// An OK answer, now.
    @inlinable
    public static func ok(_ response: Value) -> Answer { .now(.success(response)) }

    /// A failed answer, now.
    @inlinable
    public static func failed(_ error: RPCError) -> Answer { .now(.failure(error)) }

    /// An answer computed by async work in a task of its own; the end of the call (deadline, cancel,
    /// shutdown) cancels the task.
    public static func task(_ work: @escaping @Sendable () async throws(RPCError) -> Value) -> Answer {
        .later(
            Pending { complete in
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
