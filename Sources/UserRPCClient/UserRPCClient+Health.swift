import HealthV1
import UserRPCWire

extension UserRPCClient {
    /// `health.v1.Health/Check`: whether the server (or the service named, `user.v1.UserService`)
    /// can serve calls now. Needs no bearer token. A server that cannot be reached, or that has sent
    /// `goaway`, throws (UNAVAILABLE) rather than answering: treat a throw as not serving.
    public nonisolated(nonsending) func checkHealth(service: String? = nil, options: CallOptions = CallOptions()) async throws(UserRPCError)
        -> HealthCheckResponse
    {
        try await call(HealthServiceV1.check, HealthCheckRequest(service: service), options: options)
    }
}
