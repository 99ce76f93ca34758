import UserRPCWire

/// `health.v1.Health`: whether a server, or one service it hosts, can serve calls now (the model is
/// gRPC's `grpc.health.v1`). Load balancers and orchestrators probe it; it needs no bearer token.
public enum HealthServiceV1 {
    /// `Schemas/health.v1.json`, as built into this module.
    public static let schema = ServiceSchema(embedded: EmbeddedSchema.json)

    /// The service's full name, as it prefixes method names on the wire.
    public static let name = "health.v1.Health"

    /// `Check`: the serving status of the server, or of one of its services.
    public static let check = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(service: name, name: "Check", idempotency: .noSideEffects)
}
