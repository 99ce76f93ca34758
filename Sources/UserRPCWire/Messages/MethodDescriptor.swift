/// One RPC method of a service, with its request and response message types: what a client calls
/// and what a server registers a handler for.
public struct MethodDescriptor<Request: RPCMessage, Response: RPCMessage>: Sendable, Hashable, CustomStringConvertible {
    /// The service's full name, `package.Service` (`user.v1.UserService`).
    public let service: String
    /// The method's name within the service (`GetUser`).
    public let name: String
    /// The name on the wire: `package.Service/Method` (`user.v1.UserService/GetUser`).
    public let fullName: String
    /// Whether calls may be retried (the method's `idempotency` in its schema).
    public let idempotency: ServiceSchema.Idempotency

    /// The method `name` of the service `service` (`package.Service`), with its schema's idempotency level.
    public init(service: String, name: String, idempotency: ServiceSchema.Idempotency = .unknown) {
        self.service = service
        self.name = name
        self.fullName = service + "/" + name
        self.idempotency = idempotency
    }

    /// The ``fullName``.
    public var description: String { fullName }
}

/// A server-streaming RPC method: one request, then a stream of `Response` messages, then a final
/// status (the schema's `"streaming": "server"`).
public struct ServerStreamingMethodDescriptor<Request: RPCMessage, Response: RPCMessage>: Sendable, Hashable, CustomStringConvertible {
    /// The service's full name, `package.Service` (`health.v1.Health`).
    public let service: String
    /// The method's name within the service (`Watch`).
    public let name: String
    /// The name on the wire: `package.Service/Method` (`health.v1.Health/Watch`).
    public let fullName: String

    /// The server-streaming method `name` of the service `service` (`package.Service`).
    public init(service: String, name: String) {
        self.service = service
        self.name = name
        self.fullName = service + "/" + name
    }

    /// The ``fullName``.
    public var description: String { fullName }
}
