import ArgumentParser
import UserRPCClient
import UserRPCWire

/// `--service`: which service a short method or message name belongs to. Full method names
/// (`user.v2.UserService/UpdateUser`) need none; short ones default to the first service that has
/// them, `user.v1` before `user.v2`, so that existing scripts keep calling v1.
struct ServiceChoice: ParsableArguments {
    @Option(help: "The service of a short method name: user.v1 (the default) or user.v2, or a full service name.")
    var service: String?

    /// The schemas to look names up in, in order.
    func schemas(among known: [ServiceSchema] = UserRPCClient.knownServices) throws -> [ServiceSchema] {
        guard let service else { return known }
        let chosen = known.filter { $0.package == service || $0.fullServiceName == service }
        guard !chosen.isEmpty else {
            throw ValidationError("unknown service '\(service)'; known: \(known.map(\.package).joined(separator: ", "))")
        }
        return chosen
    }

    /// The method `name` names (short or full), with its schema.
    func method(named name: String) throws -> (schema: ServiceSchema, method: ServiceSchema.Method) {
        let schemas = try schemas()
        for schema in name.contains("/") ? UserRPCClient.knownServices : schemas {
            if let method = schema.method(named: name) { return (schema, method) }
        }
        let known = schemas.flatMap { schema in schema.methods.map(\.name) }.joined(separator: ", ")
        throw ValidationError("unknown method '\(name)'; known: \(known)")
    }
}
