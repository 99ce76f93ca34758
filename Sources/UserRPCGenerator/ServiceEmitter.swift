/// Writes a schema's namespace: the service's name, its embedded schema and one method descriptor
/// per method (with the schema's idempotency level, which decides what a client may retry).
struct ServiceEmitter {
    let definition: ServiceDefinition
    let options: GeneratorOptions

    func emit() -> String {
        var code = CodeWriter()
        code.fileHeader(options.header, imports: ["UserRPCWire"], foundation: false)
        code.doc(
            """
            `\(definition.fullServiceName)` (`Schemas/\(definition.package).json`): its schema, one descriptor per
            method, and (nested here) its messages.
            """)
        code.block("public enum \(options.namespace)") { code in
            code.doc("`Schemas/\(definition.package).json`, as built into this module.")
            code.line("public static let schema = ServiceSchema(embedded: schemaText)")
            code.line()
            code.doc("The service's full name, as it prefixes method names on the wire.")
            code.line("public static let name = \"\(definition.fullServiceName)\"")
            for method in definition.methods {
                code.line()
                code.doc("`\(method.name)`: \(SwiftNames.docText(method.description))")
                var arguments = "service: name, name: \"\(method.name)\""
                if let idempotency = method.idempotency { arguments += ", idempotency: .\(SwiftNames.lowerCamel(idempotency))" }
                let descriptor = method.isServerStreaming ? "ServerStreamingMethodDescriptor" : "MethodDescriptor"
                code.line("public static let \(method.swiftName) = \(descriptor)<\(method.request), \(method.response)>(\(arguments))")
            }
            code.line()
            code.doc("Every message of the schema, in schema order.")
            code.line(
                "public static let messageTypes: [any RPCMessage.Type] = [\(definition.messages.map { "\($0.name).self" }.joined(separator: ", "))]")
            code.line()
            code.doc(
                """
                The text of `Schemas/\(definition.package).json`, byte for byte: the file itself, built in by SwiftPM
                (`Sources/\(options.messagesModule)/Generated/\(definition.package).json` links to it; `Package.swift` embeds it).
                """)
            code.line("static let schemaText = String(decoding: PackageResources.\(Self.resourceName(definition.package)), as: UTF8.self)")
        }
        return code.text
    }

    /// The name SwiftPM gives an embedded resource: its file name with every character that cannot
    /// stand in an identifier made `_` (`user.v1.json` → `user_v1_json`).
    static func resourceName(_ package: String) -> String {
        String((package + ".json").map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
