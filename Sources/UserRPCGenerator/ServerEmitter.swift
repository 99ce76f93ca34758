/// Writes a service's server side: a protocol with one function per method, each given the typed
/// request and the call's context and answering now or later, and its registration with the router
/// (in the manner of grpc-swift 2's `SimpleServiceProtocol` and `registerMethods`).
struct ServerEmitter {
    let definition: ServiceDefinition
    let options: GeneratorOptions

    func emit() -> String {
        let namespace = options.namespace
        var code = CodeWriter()
        let imports = [options.messagesModule, "UserRPCWire"] + (options.serverModule == "UserRPCServer" ? [] : ["UserRPCServer"])
        code.fileHeader(options.header, imports: imports, foundation: false)
        code.block("extension \(namespace)") { code in
            code.doc(
                """
                The server side of `\(definition.fullServiceName)`: one function per method of
                `Schemas/\(definition.package).json`, given the typed request and the call's context, answering now
                (``ServerAnswer/ok(_:)``, ``ServerAnswer/failed(_:)``) or later (``ServerAnswer/later(_:)``); a
                server-streaming method writes its messages to a ``ServerStreamWriter`` and returns to end the stream.

                Conform, and host the conformer in a ``UserRPCServer``: ``RPCService/registerMethods(with:)``
                registers every method, and the server checks them against the schema when it is made.
                """)
            code.block("public protocol ServiceProtocol: RPCService") { code in
                for (index, method) in definition.methods.enumerated() {
                    if index > 0 { code.line() }
                    code.doc("`\(method.name)`: \(SwiftNames.docText(method.description))")
                    if method.isServerStreaming {
                        code.line(
                            "func \(method.swiftName)(_ request: \(namespace).\(method.request), context: ServerContext, writer: ServerStreamWriter<\(namespace).\(method.response)>) async throws(RPCError)"
                        )
                    } else {
                        code.line(
                            "func \(method.swiftName)(_ request: \(namespace).\(method.request), context: inout ServerContext) -> ServerAnswer<\(namespace).\(method.response)>"
                        )
                    }
                }
            }
        }
        code.line()
        code.block("extension \(namespace).ServiceProtocol") { code in
            code.doc("`Schemas/\(definition.package).json`: what the server checks the methods against, and reflection serves.")
            code.line("public var schema: ServiceSchema { \(namespace).schema }")
            code.line()
            code.doc("Registers each method of `\(definition.fullServiceName)` with its function.")
            code.block("public func registerMethods(with router: inout RPCRouter)") { code in
                for method in definition.methods {
                    if method.isServerStreaming {
                        code.line(
                            "router.registerServerStreaming(\(namespace).\(method.swiftName)) { [self] request, context, writer throws(RPCError) in try await \(method.swiftName)(request, context: context, writer: writer) }"
                        )
                    } else {
                        code.line(
                            "router.register(\(namespace).\(method.swiftName)) { [self] request, context in \(method.swiftName)(request, context: &context) }"
                        )
                    }
                }
            }
        }
        return code.text
    }
}
