import UserRPCWire

/// `reflection.v1.Reflection`: the services a server hosts and their schemas (the model is gRPC
/// server reflection, as grpcurl uses it), so a tool can call any method of any server without a
/// local copy of its schema.
public enum ReflectionServiceV1 {
    /// `Schemas/reflection.v1.json`, as built into this module.
    public static let schema = ServiceSchema(embedded: EmbeddedSchema.json)

    /// The service's full name, as it prefixes method names on the wire.
    public static let name = "reflection.v1.Reflection"

    /// `ListServices`: the hosted services, sorted by name.
    public static let listServices = MethodDescriptor<ListServicesRequest, ListServicesResponse>(
        service: name, name: "ListServices", idempotency: .noSideEffects)
    /// `DescribeService`: one hosted service's schema document.
    public static let describeService = MethodDescriptor<DescribeServiceRequest, DescribeServiceResponse>(
        service: name, name: "DescribeService", idempotency: .noSideEffects)
}
