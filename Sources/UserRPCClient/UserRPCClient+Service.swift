import ServiceLifecycle

extension UserRPCClient: Service {
    /// Runs the client as a swift-service-lifecycle `Service`: it connects on demand as always, and
    /// this returns once the service group shuts down gracefully (or the task is cancelled), after
    /// closing the client's connections. Put the client after the services that call it in the group:
    /// services stop in reverse order, so the client outlives its callers.
    ///
    /// ```swift
    /// let client = UserRPCClient(configuration: .init(host: "127.0.0.1", port: 50051))
    /// let group = ServiceGroup(services: [client, myService], gracefulShutdownSignals: [.sigterm], logger: logger)
    /// try await group.run()
    /// ```
    public func run() async throws {
        // Returns at the group's graceful shutdown; throws when the task is cancelled first. Either
        // way the connections close.
        try? await gracefulShutdown()
        await close()
    }
}
