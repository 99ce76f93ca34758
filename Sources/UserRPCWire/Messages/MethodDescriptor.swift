/// One RPC method of a service, with its request and response message types: what a client calls
/// and what a server registers a handler for.
public struct MethodDescriptor<Request: RPCMessage, Response: RPCMessage>: Sendable, Hashable, CustomStringConvertible {
    /// The service's full name, `package.Service` (`user.v1.UserService`).
    public let service: String
    /// The method's name within the service (`GetUser`).
    public let name: String
    /// The name on the wire: `package.Service/Method` (`user.v1.UserService/GetUser`).
    public let fullName: String

    /// The method `name` of the service `service` (`package.Service`).
    public init(service: String, name: String) {
        self.service = service
        self.name = name
        self.fullName = service + "/" + name
    }

    /// The ``fullName``.
    public var description: String { fullName }
}
