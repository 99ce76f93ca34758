import NIOCore
import NIOPosix

/// A TCP server on loopback that accepts connections and reads everything, but never answers: for
/// testing what a client does on its own (its deadlines).
public final class SilentServer: Sendable {
    private let channel: any Channel
    public let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    public static func start() async throws -> SilentServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Swallow()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SilentServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    public func stop() async {
        try? await channel.close()
    }

    private final class Swallow: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }
}
