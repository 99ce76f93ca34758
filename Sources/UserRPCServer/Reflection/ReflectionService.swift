import ReflectionV1
import UserRPCWire

/// `reflection.v1.Reflection` (`Schemas/reflection.v1.json`): the services the server hosts and
/// their schema documents, byte for byte. The server hosts one unless
/// ``UserRPCServerConfiguration/reflection`` is off; it lists every hosted service, itself included.
public struct ReflectionService: ReflectionServiceV1.ServiceProtocol {
    private let schemas: [ServiceSchema]
    private let list: ListServicesResponse

    /// A reflection service describing `schemas` (and itself).
    public init(schemas: [ServiceSchema]) {
        var all = schemas
        if !all.contains(where: { $0.fullServiceName == ReflectionServiceV1.name }) { all.append(ReflectionServiceV1.schema) }
        self.schemas = all.sorted { $0.fullServiceName < $1.fullServiceName }
        list = ListServicesResponse(
            services: self.schemas.map { ServiceEntry(name: $0.fullServiceName, package: $0.package, methods: UInt64($0.methods.count)) })
    }

    public func listServices(_ request: ListServicesRequest, context: inout ServerContext) -> ServerAnswer<ListServicesResponse> {
        .ok(list)
    }

    public func describeService(_ request: DescribeServiceRequest, context: inout ServerContext) -> ServerAnswer<DescribeServiceResponse> {
        guard let schema = schemas.first(where: { $0.fullServiceName == request.service || $0.package == request.service }) else {
            return .failed(
                RPCError(
                    code: .notFound,
                    message:
                        "this server does not host '\(RPCError.echo(request.service))'; it hosts \(schemas.map(\.fullServiceName).joined(separator: ", "))"
                ))
        }
        return .ok(DescribeServiceResponse(schema: schema.text))
    }
}
