import NowOrLater
import UserCore
import UserRPCServer
import UserRPCWire

extension Answer where Failure == UserError {
    /// The server's answer for this domain answer: its value presented as the message `present`
    /// makes, its failure as the ``RPCError`` of its code — now or later, as the domain answered.
    func answer<Response: RPCMessage>(_ present: @escaping @Sendable (Value) -> Response) -> ServerAnswer<Response> {
        map(present).mapError(\.rpcError)
    }
}
