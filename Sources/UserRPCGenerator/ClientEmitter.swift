/// Writes a service's typed client: a struct reached from ``UserRPCClient`` (`client.v2`) with, per
/// method, a call taking the request's fields as labelled parameters, a call taking the request
/// message, and a pipelined call of many requests.
struct ClientEmitter {
    let definition: ServiceDefinition
    let options: GeneratorOptions

    var clientType: String { options.namespace + "Client" }

    func emit() -> String {
        let namespace = options.namespace
        var code = CodeWriter()
        code.fileHeader(options.header, imports: ["UserRPCWire", options.messagesModule], foundation: usesFoundation)
        code.block("extension UserRPCClient") { code in
            code.doc(
                "The methods of `\(definition.fullServiceName)` by name: `client.\(options.clientAccessor).\(definition.methods[0].swiftName)(…)`.")
            code.line("public var \(options.clientAccessor): \(clientType) { \(clientType)(client: self) }")
        }
        code.line()
        code.doc(
            """
            `\(definition.fullServiceName)` through a ``UserRPCClient``. For each method: a call with the
            request's fields as parameters, a call with the request message, and a pipelined call of many
            requests on one connection (``UserRPCClient/callPipelined(_:_:options:)``), all with the
            descriptors of ``\(namespace)``.
            """)
        code.block("public struct \(clientType): Sendable") { code in
            code.doc("The client the calls go through.")
            code.line("public let client: UserRPCClient")
            code.line()
            code.doc("The methods of `\(definition.fullServiceName)`, called through `client`.")
            code.block("public init(client: UserRPCClient)") { code in
                code.line("self.client = client")
            }
            for method in definition.methods {
                code.line()
                emit(method, into: &code, receiver: "client.")
            }
        }
        if options.clientTopLevel {
            code.line()
            code.line("// The fields form of each method on the client itself, as it has always offered them.")
            code.block("extension UserRPCClient") { code in
                for (index, method) in definition.methods.enumerated() {
                    if index > 0 { code.line() }
                    emitFieldsForm(method, into: &code, receiver: "")
                }
            }
        }
        return code.text
    }

    private var usesFoundation: Bool {
        definition.methods.contains { method in
            definition.message(named: method.request).fields.contains { $0.type == .uuid || $0.type == .dateTime }
        }
    }

    private func emit(_ method: ServiceDefinition.Method, into code: inout CodeWriter, receiver: String) {
        let namespace = options.namespace
        let request = "\(namespace).\(method.request)"
        let response = "\(namespace).\(method.response)"
        emitFieldsForm(method, into: &code, receiver: receiver)
        if method.isServerStreaming {
            code.line()
            if let resume = definition.resume(of: method) {
                code.doc(
                    """
                    `\(method.name)` with its request message: its messages, as they come, resumed after the last one \
                    (`\(resume.responseField)`) when the stream breaks.
                    """)
                code.line(
                    "public func \(method.swiftName)(_ request: \(request), options: CallOptions = CallOptions()) -> UserRPCClient.ResumingStream<\(response)> {"
                )
                code.indent { code in emitResumingStream(method, resume, into: &code, receiver: receiver) }
                code.line("}")
                return
            }
            code.doc("`\(method.name)` with its request message: its messages, as they come.")
            code.line(
                "public func \(method.swiftName)(_ request: \(request), options: CallOptions = CallOptions()) -> UserRPCClient.ServerStream<\(response)> {"
            )
            code.line("    \(receiver)stream(\(namespace).\(method.swiftName), request, options: options)")
            code.line("}")
            return
        }
        code.line()
        code.doc("`\(method.name)` with its request message.")
        if definition.message(named: method.response).fields.isEmpty { code.line("@discardableResult") }
        code.line(
            "public nonisolated(nonsending) func \(method.swiftName)(_ request: \(request), options: CallOptions = CallOptions()) async throws(UserRPCError) -> \(response) {"
        )
        code.line("    try await \(receiver)call(\(namespace).\(method.swiftName), request, options: options)")
        code.line("}")
        code.line()
        code.doc("`\(method.name)` for each of `requests`, pipelined on one connection: one answer per request, in their order.")
        code.line(
            "public nonisolated(nonsending) func \(method.swiftName)(pipelining requests: [\(request)], options: CallOptions = CallOptions()) async -> [UserRPCClient.PipelinedAnswer<\(response)>] {"
        )
        code.line("    await \(receiver)callPipelined(\(namespace).\(method.swiftName), requests, options: options)")
        code.line("}")
    }

    private func emitFieldsForm(_ method: ServiceDefinition.Method, into code: inout CodeWriter, receiver: String) {
        let namespace = options.namespace
        let fields = definition.message(named: method.request).fields
        var doc = "`\(method.name)`: \(SwiftNames.docText(method.description))"
        if !fields.isEmpty {
            doc += "\n\n- Parameters:"
            for field in fields {
                doc += "\n  - \(field.swiftName): " + (field.description.map(SwiftNames.docText) ?? "`\(field.name)`.")
            }
            doc += "\n  - options: the call's deadline and metadata."
        }
        code.doc(doc)
        if definition.message(named: method.response).fields.isEmpty && !method.isServerStreaming { code.line("@discardableResult") }
        let parameters =
            fields.map { MessagesEmitter.parameter($0, type: MessagesEmitter.qualifiedType($0, in: method.request, namespace: options.namespace)) }
            + [
                "options: CallOptions = CallOptions()"
            ]
        let arguments = fields.map { "\($0.swiftName): \($0.swiftName)" }.joined(separator: ", ")
        if method.isServerStreaming, let resume = definition.resume(of: method) {
            code.line(
                "public func \(method.swiftName)(\(parameters.joined(separator: ", "))) -> UserRPCClient.ResumingStream<\(namespace).\(method.response)> {"
            )
            code.indent { code in
                if receiver.isEmpty {
                    code.line("let request = \(namespace).\(method.request)(\(arguments))")
                    emitResumingStream(method, resume, into: &code, receiver: receiver)
                } else {
                    // The request-message form beside it resumes the same way.
                    code.line("\(method.swiftName)(\(namespace).\(method.request)(\(arguments)), options: options)")
                }
            }
            code.line("}")
            return
        }
        if method.isServerStreaming {
            code.line(
                "public func \(method.swiftName)(\(parameters.joined(separator: ", "))) -> UserRPCClient.ServerStream<\(namespace).\(method.response)> {"
            )
            code.line("    \(receiver)stream(\(namespace).\(method.swiftName), \(namespace).\(method.request)(\(arguments)), options: options)")
            code.line("}")
            return
        }
        code.line(
            "public nonisolated(nonsending) func \(method.swiftName)(\(parameters.joined(separator: ", "))) async throws(UserRPCError) -> \(namespace).\(method.response) {"
        )
        code.line("    try await \(receiver)call(\(namespace).\(method.swiftName), \(namespace).\(method.request)(\(arguments)), options: options)")
        code.line("}")
    }

    /// The body of a resuming stream's call: `request` resumed after a cursor by setting the request
    /// field (and asking for bookmarks, which are passed on only when the caller asked for them).
    private func emitResumingStream(
        _ method: ServiceDefinition.Method, _ resume: ServiceDefinition.Resume, into code: inout CodeWriter, receiver: String
    ) {
        let namespace = options.namespace
        let after = SwiftNames.lowerCamel(resume.requestField)
        let cursor = SwiftNames.lowerCamel(resume.responseField)
        let request = "\(namespace).\(method.request)"
        let response = "\(namespace).\(method.response)"
        if let flag = resume.bookmarksField, let kind = resume.bookmarkKind {
            code.line("// Bookmarks are asked for on every call; the loop sees them only when the caller asked for them.")
            code.line("var isBookmark: (@Sendable (\(response)) -> Bool)?")
            code.block("if request.\(SwiftNames.lowerCamel(flag)) != true") { code in
                code.line(
                    "isBookmark = { $0.\(SwiftNames.lowerCamel(kind.field)) == \(response).\(SwiftNames.upperCamel(kind.field)).\(SwiftNames.lowerCamel(kind.value)) }"
                )
            }
        } else {
            code.line("let isBookmark: (@Sendable (\(response)) -> Bool)? = nil")
        }
        code.line("return \(receiver)resumingStream(")
        code.indent { code in
            code.line("\(namespace).\(method.swiftName), request, options: options,")
            code.line("resumingAfter: { (request: \(request), cursor: String?) -> \(request) in")
            code.indent { code in
                code.line("var request = request")
                code.line("if let cursor { request.\(after) = cursor }")
                if let flag = resume.bookmarksField { code.line("request.\(SwiftNames.lowerCamel(flag)) = true") }
                code.line("return request")
            }
            code.line("},")
            code.line("cursor: { $0.\(cursor) }, isBookmark: isBookmark)")
        }
    }
}
