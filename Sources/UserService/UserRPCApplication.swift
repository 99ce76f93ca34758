import Logging
import Metrics
import UserCore
import UserRPCServer

/// The composition root of a user-rpc server: the user services (`user.v1`, `user.v2`) and health
/// over one repository, on a ``UserRPCServer``. The server binary (`user-rpc-server`) and the test
/// kit both make their servers here, so a test hosts the services the binary hosts (the test kit names
/// the store and cache `store` and `cache` in health details, the binary `PostgreSQL` or `embedded store`, and `Redis`).
public enum UserRPCApplication {
    /// The services a user-rpc server hosts over `operations`: `user.v1` and `user.v2`, and
    /// `health.v1` probing the repository's store (named `storeName` in health details) and cache.
    public static func services(operations: UserOperations, storeName: String, cacheName: String = "Redis") -> [any RPCService] {
        [
            UserServiceV1Provider(operations: operations), UserServiceV2Provider(operations: operations),
            HealthService(probes: operations.repository.healthProbes(storeName: storeName, cacheName: cacheName)),
        ]
    }

    /// A server of ``services(operations:storeName:cacheName:)``, plus `extraServices`, with
    /// `interceptors` (reflection is added by the server unless its configuration turns it off).
    public static func makeServer(
        configuration: UserRPCServerConfiguration,
        operations: UserOperations,
        storeName: String,
        cacheName: String = "Redis",
        extraServices: [any RPCService] = [],
        interceptors: [any ServerInterceptor] = [],
        logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) throws(ServiceRegistrationError) -> UserRPCServer {
        try UserRPCServer(
            configuration: configuration, services: services(operations: operations, storeName: storeName, cacheName: cacheName) + extraServices,
            interceptors: interceptors, logger: logger, metricsFactory: metricsFactory)
    }
}
