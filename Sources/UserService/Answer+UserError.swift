import NowOrLater
import UserCore
import UserRPCServer
import UserRPCWire

extension Answer where Failure == UserError {
    /// The server's answer for this domain answer: its value presented as the message `present`
    /// makes, its failure as the ``RPCError`` of its code — now or later, as the domain answered.
    ///
    /// (`map(present).mapError(\.rpcError)`, written out: an answer given now — the embedded store's
    /// every read — is then presented in place, with no closure or key path built for it.)
    @inline(__always)
    func answer<Response: RPCMessage>(_ present: @escaping @Sendable (Value) -> Response) -> ServerAnswer<Response> {
        switch self {
        case .now(.success(let value)):
            return .now(.success(present(value)))
        case .now(.failure(let error)):
            return .now(.failure(error.rpcError))
        case .later(let pending):
            return .later(.init { complete in pending.start { complete($0.map(present).mapError { $0.rpcError }) } })
        }
    }
}
