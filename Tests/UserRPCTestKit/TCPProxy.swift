import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP forwarder on loopback between a client and a server, that a test can cut and restore: the
/// server stays up for everyone else, but this client can no longer reach it (a partition).
public final class TCPProxy: Sendable {
    private let listener: any Channel
    private let targetPort: Int
    private let state = NIOLockedValueBox<(cut: Bool, channels: [any Channel])>((false, []))
    /// The port clients of the proxy connect to.
    public let port: Int

    private init(listener: any Channel, targetPort: Int) {
        self.listener = listener
        self.targetPort = targetPort
        self.port = listener.localAddress?.port ?? 0
    }

    /// Starts forwarding connections on an ephemeral port to `127.0.0.1:targetPort`.
    public static func start(to targetPort: Int) async throws -> TCPProxy {
        let box = NIOLockedValueBox<TCPProxy?>(nil)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture { box.withLockedValue { $0 }?.accept(inbound) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let proxy = TCPProxy(listener: listener, targetPort: targetPort)
        box.withLockedValue { $0 = proxy }
        return proxy
    }

    private func accept(_ inbound: any Channel) {
        let refused = state.withLockedValue { state in
            if !state.cut { state.channels.append(inbound) }
            return state.cut
        }
        guard !refused else {
            inbound.close(promise: nil)
            return
        }
        ClientBootstrap(group: inbound.eventLoop)
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    let (toServer, toClient) = Glue.pair()
                    try outbound.pipeline.syncOperations.addHandler(toServer)
                    try inbound.pipeline.syncOperations.addHandler(toClient)
                }
            }
            .connect(host: "127.0.0.1", port: targetPort)
            .whenComplete { [self] result in
                switch result {
                case .success(let outbound):
                    state.withLockedValue { $0.channels.append(outbound) }
                    inbound.read()
                case .failure:
                    inbound.close(promise: nil)
                }
            }
    }

    /// Closes every forwarded connection and refuses new ones until ``restore()``.
    public func cut() {
        let channels = state.withLockedValue { state in
            state.cut = true
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Forwards new connections again.
    public func restore() {
        state.withLockedValue { $0.cut = false }
    }

    public func stop() async {
        cut()
        try? await listener.close()
    }

    /// Copies bytes from one channel to its partner; closing either closes both.
    private final class Glue: ChannelDuplexHandler {
        typealias InboundIn = NIOAny
        typealias OutboundIn = NIOAny
        typealias OutboundOut = NIOAny
        private var partner: Glue?
        private var context: ChannelHandlerContext?

        static func pair() -> (Glue, Glue) {
            let first = Glue()
            let second = Glue()
            first.partner = second
            second.partner = first
            return (first, second)
        }

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func handlerRemoved(context: ChannelHandlerContext) {
            self.context = nil
            partner = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner?.context?.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            partner?.context?.flush()
            context.read()
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner?.context?.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        func channelActive(context: ChannelHandlerContext) {
            context.read()
        }
    }
}
