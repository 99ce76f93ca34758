import UserCore
import UserRPCServer
import UserRPCWire

extension StorageOutcome {
    /// The server's answer for this outcome, its value presented as the message `present` makes: at
    /// once when the storage work ran inline, later from the storage threads otherwise.
    func answer<Response: RPCMessage>(_ present: @escaping @Sendable (Value) -> Response) -> ServerAnswer<Response> {
        switch self {
        case .done(.success(let value)):
            return .ok(present(value))
        case .done(.failure(let error)):
            return .failed(error.rpcError)
        case .pending(let start):
            return .later(
                PendingAnswer { complete in
                    let cancellation = CallCancellation()
                    start(cancellation) { result in
                        complete(result.map(present).mapError(\.rpcError))
                    }
                    return { cancellation.cancel() }
                })
        }
    }
}
