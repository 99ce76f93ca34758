import UserRPCWire

/// A service a server hosts: its schema, and one handler per method of it.
///
/// The server checks each service against its schema when it is made: every method in the schema
/// must have a handler, every handler a method in the schema, with the schema's request and response
/// messages; otherwise the server refuses to start, naming the mismatch.
public protocol RPCService: Sendable {
    /// The schema (`Schemas/<package>.json`) this service implements.
    var schema: ServiceSchema { get }
    /// Registers one handler per method.
    func registerMethods(with router: inout RPCRouter)
}

/// Why a set of services cannot be served.
public struct ServiceRegistrationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every mismatch found, one sentence each.
    public var problems: [String]

    public var description: String {
        "the services do not match their schemas: " + problems.joined(separator: "; ")
    }
}
