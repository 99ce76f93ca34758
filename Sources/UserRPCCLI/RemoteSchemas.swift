import ArgumentParser
import UserRPCClient

/// Schemas asked of a server through `reflection.v1.Reflection`: what lets the CLI list, describe
/// and call the methods of any server speaking this protocol, without a local copy of its schemas.
enum RemoteSchemas {
    /// Every schema the server hosts, in the order short names are looked up (sorted by service
    /// name: `user.v1` before `user.v2`).
    static func all(from client: UserRPCClient) async throws(UserRPCError) -> [ServiceSchema] {
        var schemas: [ServiceSchema] = []
        for entry in try await client.listServices() {
            schemas.append(try await client.describeService(entry.name))
        }
        return schemas
    }

    /// The schema and method that `name` (short or full) names on the server, as `choice` narrows
    /// it; `nil` when the server does not offer reflection (the caller falls back to the schemas it
    /// was built with).
    static func method(
        named name: String, choice: ServiceChoice, client: UserRPCClient
    ) async throws -> (schema: ServiceSchema, method: ServiceSchema.Method)? {
        let match: (schema: ServiceSchema, method: ServiceSchema.Method)?
        do {
            match = try await lookUp(name, choice: choice, client: client)
        } catch {
            switch error.code {
            case .unimplemented: return nil
            case .notFound: throw ValidationError("the server does not host \(serviceNamed(in: name, choice: choice)): \(error.message)")
            default: throw error
            }
        }
        guard let match else { throw ValidationError("the server has no method '\(name)'\(choice.service.map { " in \($0)" } ?? "")") }
        return match
    }

    private static func lookUp(
        _ name: String, choice: ServiceChoice, client: UserRPCClient
    ) async throws(UserRPCError) -> (schema: ServiceSchema, method: ServiceSchema.Method)? {
        let services: [String]
        if let slash = name.firstIndex(of: "/") {
            services = [String(name[..<slash])]
        } else if let service = choice.service {
            services = [service]
        } else {
            services = try await client.listServices().map(\.name)
        }
        for service in services {
            let schema = try await client.describeService(service)
            if let method = schema.method(named: name) { return (schema, method) }
        }
        return nil
    }

    private static func serviceNamed(in name: String, choice: ServiceChoice) -> String {
        if let slash = name.firstIndex(of: "/") { return String(name[..<slash]) }
        return choice.service ?? "that service"
    }
}
