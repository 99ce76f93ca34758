import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ReflectionV1
import ServiceLifecycle
import UserRPCWire

/// A server of wire protocol v1 (`docs/PROTOCOL.md`): TCP on SwiftNIO, hosting any number of services.
///
/// Each service (``RPCService``) brings its schema and one handler per method; the server checks
/// them against each other when it is made. Interceptors (``ServerInterceptor``) run around every
/// call: first the server's ``RequestIDInterceptor``, then a bearer-token check when
/// ``UserRPCServerConfiguration/authTokens`` is set, then the ones given.
///
/// Run it with ``run()`` (directly, or in a `ServiceGroup`, which calls ``beginGracefulShutdown()`` on
/// SIGTERM/SIGINT). A graceful shutdown stops accepting connections, sends `goaway` on each one,
/// lets calls in flight finish within the grace period, then closes.
public final class UserRPCServer: Service, Sendable {
    public let configuration: UserRPCServerConfiguration
    private let router: RPCRouter
    /// The health service this server hosts (the one given, or its own).
    public let health: HealthService
    private let requestIDs = RequestIDInterceptor()
    private let interceptors: [any ServerInterceptor]
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = NIOLockedValueBox(State())
    private let address: EventLoopPromise<SocketAddress>
    private let allConnectionsClosed: EventLoopPromise<Void>
    private let metrics: ServerMetrics

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        /// A graceful shutdown was asked for and the drain delay is running.
        var draining = false
        /// Connections closed at once because `maxConnections` were open.
        var rejectedConnections = 0
        /// Each promise is completed exactly once: these record that it was.
        var addressResolved = false
        var allClosedSignalled = false
    }

    /// - Parameters:
    ///   - services: the services to host; each must match its schema, and no two may share a method.
    ///     A ``HealthService`` among them is the server's health service; without one, the server
    ///     hosts its own (no probes: SERVING until a graceful shutdown begins). A
    ///     ``ReflectionService`` describing them all is added unless
    ///     ``UserRPCServerConfiguration/reflection`` is off.
    ///   - interceptors: run around every call, in this order (after the request ids, and the
    ///     bearer-token check when tokens are configured).
    ///   - eventLoopGroup: defaults to NIO's shared group with one thread per core.
    ///   - metricsFactory: where the server's metrics go (calls, latency, connections, rejected
    ///     frames; see ``MetricsInterceptor``); `nil` (the default): none are kept, and calls pay nothing for them.
    /// - Throws: ``ServiceRegistrationError`` naming every mismatch between a service and its schema.
    public init(
        configuration: UserRPCServerConfiguration,
        services: [any RPCService],
        interceptors: [any ServerInterceptor] = [],
        logger: Logger = Logger(label: "user-rpc-server"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metricsFactory: (any MetricsFactory)? = nil
    ) throws(ServiceRegistrationError) {
        var router = RPCRouter()
        var problems: [String] = []
        let health = services.lazy.compactMap { $0 as? HealthService }.first ?? HealthService()
        var hosted = services.contains { $0 is HealthService } ? services : services + [health]
        if configuration.reflection, !hosted.contains(where: { $0.schema.fullServiceName == ReflectionServiceV1.name }) {
            hosted.append(ReflectionService(schemas: hosted.map(\.schema)))
        }
        for service in hosted { router.add(service, problems: &problems) }
        router.numberRoutes()
        health.setHostedServices(hosted.map(\.schema.fullServiceName))
        self.health = health
        guard problems.isEmpty else { throw ServiceRegistrationError(problems: problems) }
        self.configuration = configuration
        self.router = router
        // Metrics first in the list (after the request ids, which never refuse), so that they see
        // every call, including those the later interceptors refuse.
        // Latency is read on the event loops' clock (a manual one on an `EmbeddedEventLoop`).
        let clockLoop = eventLoopGroup.next()
        var all: [any ServerInterceptor] =
            metricsFactory.map { [MetricsInterceptor(methods: router.methodNames, factory: $0, clock: { clockLoop.now })] } ?? []
        if !configuration.authTokens.isEmpty {
            all.append(
                BearerTokenInterceptor(
                    tokens: configuration.authTokens, openMethods: configuration.unauthenticatedMethods,
                    openServices: configuration.unauthenticatedServices))
        }
        self.interceptors = all + interceptors
        self.metrics = ServerMetrics(factory: metricsFactory ?? NOOPMetricsHandler.instance)
        self.logger = logger
        self.group = eventLoopGroup
        let loop = eventLoopGroup.next()
        self.address = loop.makePromise()
        self.allConnectionsClosed = loop.makePromise()
    }

    /// The full names of the methods this server serves, sorted.
    public var methodNames: [String] { router.methodNames }

    deinit {
        // Never leave a waiter hanging, and never complete a promise twice.
        let (addressResolved, allClosedSignalled) = state.withLockedValue { ($0.addressResolved, $0.allClosedSignalled) }
        if !addressResolved { address.fail(CancellationError()) }
        if !allClosedSignalled { allConnectionsClosed.succeed() }
    }

    /// How many connections were refused because `maxConnections` were already open.
    public var rejectedConnections: Int { state.withLockedValue { $0.rejectedConnections } }

    /// The number of open connections.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// The address the server listens on, once it is bound (useful with port 0).
    public var listeningAddress: SocketAddress {
        get async throws { try await address.futureResult.get() }
    }

    /// Binds, serves until a graceful shutdown completes, and returns. Cancelling the task closes at once.
    public func run() async throws {
        let listener: any Channel
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try configuration.tls.map(Self.makeTLSContext)
        } catch {
            state.withLockedValue { $0.addressResolved = true }
            address.fail(error)
            logger.error("cannot load the TLS certificate or key", metadata: ["error": "\(error)"])
            throw error
        }
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 512)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // A client may shut its side once it has sent its requests: the answers still go out.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: configuration.writeBufferHighWaterMark / 2, high: configuration.writeBufferHighWaterMark)
                )
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.initializeConnection(channel, tls: tlsContext) }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            state.withLockedValue { $0.addressResolved = true }
            address.fail(error)
            logger.error("could not listen", metadata: ["host": "\(configuration.host)", "port": "\(configuration.port)", "error": "\(error)"])
            throw error
        }
        let alreadyShuttingDown = state.withLockedValue { state in
            state.listener = listener
            state.addressResolved = true
            return state.shuttingDown
        }
        if let local = listener.localAddress {
            address.succeed(local)
        } else {
            address.fail(ChannelError.unknownLocalAddress)
        }
        logger.info("listening", metadata: ["address": "\(listener.localAddress.map { "\($0)" } ?? "?")"])
        if alreadyShuttingDown { beginGracefulShutdown() }

        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await listener.closeFuture.get()
                try await allConnectionsClosed.futureResult.get()
            } onGracefulShutdown: {
                self.beginGracefulShutdown()
            }
        } onCancel: {
            self.closeNow()
        }
        logger.info("stopped")
    }

    /// Serves a channel the caller connected itself — an `EmbeddedChannel` in a benchmark, or a
    /// socket accepted elsewhere — exactly as an accepted connection (limits, drain), without TLS.
    /// Call it on the channel's event loop.
    public func serve(_ channel: any Channel) throws {
        try initializeConnection(channel, tls: nil)
    }

    /// Begins a graceful shutdown. Health checks answer NOT_SERVING from now on; after the drain
    /// delay (``UserRPCServerConfiguration/shutdownDrainDelay``, during which everything else is
    /// served as before, so that load balancers stop sending calls here), the server stops accepting
    /// connections and tells every connection to quiesce (NIO's `ChannelShouldQuiesceEvent`): each
    /// sends `goaway`, closes once its calls are answered, and at the end of its grace period answers
    /// the calls still running UNAVAILABLE and closes at once. Called again during the drain delay,
    /// it skips the rest of the delay.
    public func beginGracefulShutdown() {
        health.enterShutdown()
        let delay = configuration.shutdownDrainDelay
        let startsDelay = state.withLockedValue { state in
            guard delay > .zero, !state.draining, !state.shuttingDown else { return false }
            state.draining = true
            return true
        }
        guard startsDelay else { return quiesce() }
        logger.info("graceful shutdown started: health answers NOT_SERVING", metadata: ["drain_delay": "\(delay)"])
        group.next().scheduleTask(in: delay.timeAmount) { self.quiesce() }
    }

    /// Stops accepting connections and sends every connection `ChannelShouldQuiesceEvent`.
    private func quiesce() {
        let (listener, connections, first) = state.withLockedValue { state in
            let first = !state.shuttingDown
            state.shuttingDown = true
            return (state.listener, Array(state.connections.values), first)
        }
        guard first || listener != nil else { return }
        if first {
            logger.info(
                "graceful shutdown started", metadata: ["connections": "\(connections.count)", "grace_period": "\(configuration.gracePeriod)"])
        }
        guard let listener else { return }  // not bound yet: run() shuts down once it is
        listener.close(promise: nil)
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        checkAllClosed()
    }

    private func closeNow() {
        let (listener, connections) = state.withLockedValue { state in
            state.shuttingDown = true
            return (state.listener, Array(state.connections.values))
        }
        listener?.close(promise: nil)
        for connection in connections { connection.close(promise: nil) }
        checkAllClosed()
    }

    /// Completes `allConnectionsClosed` once shutdown has begun and no connection is left. Connections
    /// close on several event loops at once: the flag, set under the lock, makes this happen once.
    private func checkAllClosed() {
        let done = state.withLockedValue { state in
            guard state.shuttingDown, state.connections.isEmpty, !state.allClosedSignalled else { return false }
            state.allClosedSignalled = true
            return true
        }
        if done { allConnectionsClosed.succeed() }
    }

    /// A TLS context from the configured PEM files (and client CA, for mutual TLS).
    static func makeTLSContext(_ settings: TLSSettings) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(settings.certificateChainPath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: settings.privateKeyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCA = settings.clientCAPath {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .file(clientCA)
        }
        return try NIOSSLContext(configuration: tls)
    }

    private func initializeConnection(_ channel: any Channel, tls: NIOSSLContext?) throws {
        let key = ObjectIdentifier(channel)
        enum Admission {
            case accepted, shuttingDown
            case overLimit(Int)
        }
        let admission: Admission = state.withLockedValue { state in
            guard !state.shuttingDown else { return .shuttingDown }
            guard state.connections.count < configuration.maxConnections else {
                state.rejectedConnections += 1
                return .overLimit(state.rejectedConnections)
            }
            state.connections[key] = channel
            return .accepted
        }
        switch admission {
        case .accepted:
            break
        case .shuttingDown:
            channel.close(promise: nil)
            return
        case .overLimit(let total):
            metrics.rejectedConnections.increment()
            logger.warning(
                "connection refused: too many connections",
                metadata: ["limit": "\(configuration.maxConnections)", "rejected_total": "\(total)"])
            channel.close(promise: nil)
            return
        }
        metrics.acceptedConnections.increment()
        metrics.openConnections.increment()
        channel.closeFuture.whenComplete { [self] _ in
            metrics.openConnections.decrement()
            state.withLockedValue { _ = $0.connections.removeValue(forKey: key) }
            checkAllClosed()
        }
        var connectionLogger = logger
        connectionLogger[metadataKey: "peer"] = "\(channel.remoteAddress.map { "\($0)" } ?? "?")"
        let handler = ServerConnectionHandler(
            router: router, requestIDs: requestIDs, interceptors: interceptors, metrics: metrics, configuration: configuration,
            logger: connectionLogger,
            allocator: channel.allocator)
        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
        try channel.pipeline.syncOperations.addHandler(handler)
    }
}
