import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// An HTTP endpoint for Prometheus to scrape: `GET /metrics` answers the registry in the text
/// exposition format (version 0.0.4); any other path is 404, any other method 405. Each response
/// closes its connection (`Connection: close`): a scrape every few seconds needs nothing more.
///
/// Run it in a `ServiceGroup` beside the server; a graceful shutdown closes it.
public final class PrometheusEndpoint: Service, Sendable {
    /// Where it listens.
    public struct Configuration: Sendable {
        /// Default `127.0.0.1`.
        public var host: String
        /// Default `9464` (the port Prometheus exporters conventionally use for this); `0` picks a free one.
        public var port: Int

        public init(host: String = "127.0.0.1", port: Int = 9464) {
            self.host = host
            self.port = port
        }
    }

    public let configuration: Configuration
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let group: any EventLoopGroup
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)

    public init(
        configuration: Configuration, registry: PrometheusCollectorRegistry, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.group = eventLoopGroup
    }

    /// Binds the port and logs where (`metrics endpoint listening endpoint=…`), so that a caller can
    /// know the endpoint is up before the rest starts; ``run()`` binds it if this was not called.
    /// - Returns: the bound address.
    @discardableResult
    public func bind() async throws -> SocketAddress? {
        if let listener = listener.withLockedValue({ $0 }) { return listener.localAddress }
        let registry = registry
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ScrapeHandler(registry: registry))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        self.listener.withLockedValue { $0 = listener }
        // The key is not `address`: that one names the RPC port in the server's log.
        logger.info("metrics endpoint listening", metadata: ["endpoint": "\(listener.localAddress.map { "\($0)" } ?? "?")"])
        return listener.localAddress
    }

    /// Serves until a graceful shutdown or cancellation.
    public func run() async throws {
        try await bind()
        guard let listener = listener.withLockedValue({ $0 }) else { return }
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await listener.closeFuture.get()
            } onGracefulShutdown: {
                listener.close(promise: nil)
            }
        } onCancel: {
            listener.close(promise: nil)
        }
    }
}

/// Answers one request per connection.
private final class ScrapeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            switch (head.method, path) {
            case (.GET, "/metrics"), (.HEAD, "/metrics"):
                var body: [UInt8] = []
                registry.emit(into: &body)
                respond(context, head, .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
            case (_, "/metrics"):
                respond(context, head, .methodNotAllowed, contentType: "text/plain; charset=utf-8", body: Array("use GET\n".utf8))
            default:
                respond(context, head, .notFound, contentType: "text/plain; charset=utf-8", body: Array("the metrics are at /metrics\n".utf8))
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, contentType: String, body: [UInt8]
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
