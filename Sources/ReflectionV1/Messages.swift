import UserRPCWire

/// `reflection.v1.ListServicesRequest`: no fields.
public struct ListServicesRequest: RPCMessage, Hashable {
    /// `ListServicesRequest`, the message's name in the schema.
    public static let messageName = "ListServicesRequest"

    /// The request (it has no fields).
    public init() {}

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {}

    /// Writes the message's fields to `fields` (none).
    @inlinable
    public func write(fields: inout MessageFieldWriter) {}
}

/// `reflection.v1.ServiceEntry`: one hosted service.
public struct ServiceEntry: RPCMessage, Hashable {
    /// `ServiceEntry`, the message's name in the schema.
    public static let messageName = "ServiceEntry"

    /// The full service name: `package.Service` (`user.v1.UserService`).
    public var name: String
    /// The schema package (`user.v1`).
    public var package: String
    /// How many methods the service has.
    public var methods: Int

    /// An entry for one service.
    public init(name: String, package: String, methods: Int) {
        self.name = name
        self.package = package
        self.methods = methods
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        name = fields.required("name", as: String.self)
        package = fields.required("package", as: String.self)
        methods = fields.required("methods", as: Int.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("name", name)
        fields.field("package", package)
        fields.field("methods", methods)
    }
}

/// `reflection.v1.ListServicesResponse`: every hosted service, sorted by name.
public struct ListServicesResponse: RPCMessage, Hashable {
    /// `ListServicesResponse`, the message's name in the schema.
    public static let messageName = "ListServicesResponse"

    /// Every hosted service, sorted by name.
    public var services: [ServiceEntry]

    /// A list of services.
    public init(services: [ServiceEntry]) {
        self.services = services
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        services = fields.messages("services", as: ServiceEntry.self, required: true)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("services", messages: services)
    }
}

/// `reflection.v1.DescribeServiceRequest`: which service to describe.
public struct DescribeServiceRequest: RPCMessage, Hashable {
    /// `DescribeServiceRequest`, the message's name in the schema.
    public static let messageName = "DescribeServiceRequest"

    /// A full service name (`user.v1.UserService`) or a package (`user.v1`).
    public var service: String

    /// A request for the schema of `service`.
    public init(service: String) {
        self.service = service
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        service = fields.required("service", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("service", service)
    }
}

/// `reflection.v1.DescribeServiceResponse`: a service's schema document.
public struct DescribeServiceResponse: RPCMessage, Hashable {
    /// `DescribeServiceResponse`, the message's name in the schema.
    public static let messageName = "DescribeServiceResponse"

    /// The schema document (JSON) as text, byte for byte as the server was built with it; read it
    /// with `ServiceSchema(json:)`.
    public var schema: String

    /// A response carrying a schema document.
    public init(schema: String) {
        self.schema = schema
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        schema = fields.required("schema", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("schema", schema)
    }
}
