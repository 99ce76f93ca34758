/// A serving status, as `HealthCheckResponse.status` spells it on the wire: ``HealthServiceV1/HealthCheckResponse/Status``
/// by the name this module has always given it.
public typealias ServingStatus = HealthServiceV1.HealthCheckResponse.Status
