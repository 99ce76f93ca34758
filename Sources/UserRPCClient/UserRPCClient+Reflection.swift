import ReflectionV1
import UserRPCWire

extension UserRPCClient {
    /// `reflection.v1.Reflection/ListServices`: the services the server hosts, sorted by name.
    /// UNIMPLEMENTED from a server that does not offer reflection.
    public nonisolated(nonsending) func listServices(options: CallOptions = CallOptions()) async throws(UserRPCError) -> [ServiceEntry] {
        try await call(ReflectionServiceV1.listServices, ListServicesRequest(), options: options).services
    }

    /// `reflection.v1.Reflection/DescribeService`: the schema of a service the server hosts, by full
    /// name (`user.v1.UserService`) or package (`user.v1`). NOT_FOUND for one it does not host;
    /// INTERNAL when the document it sends is not a schema.
    public nonisolated(nonsending) func describeService(_ service: String, options: CallOptions = CallOptions()) async throws(UserRPCError)
        -> ServiceSchema
    {
        let text = try await call(ReflectionServiceV1.describeService, DescribeServiceRequest(service: service), options: options).schema
        do {
            return try ServiceSchema(json: text)
        } catch {
            throw UserRPCError(code: .internal, message: "the server's schema of \(service) does not load: \(error)")
        }
    }
}
