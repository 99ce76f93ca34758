/// Writes a schema's messages: one struct per message, nested in the service's namespace, each with
/// its stored properties, a memberwise initializer, and the reader and writer of its fields.
struct MessagesEmitter {
    let definition: ServiceDefinition
    let options: GeneratorOptions
    /// The messages an earlier version has alike, made typealiases of its types.
    var shared: SharedMessages?

    /// The messages written out here (the others are the earlier version's).
    private var ownMessages: [ServiceDefinition.Message] {
        definition.messages.filter { !(shared?.names.contains($0.name) ?? false) }
    }

    func emit() -> String {
        var code = CodeWriter()
        let usesEnumerations = ownMessages.contains { $0.fields.contains { if case .enumeration = $0.type { true } else { false } } }
        let sharedModule = (shared.map { $0.names.isEmpty ? [] : [$0.module] } ?? [])
        code.fileHeader(
            options.header, imports: ["UserRPCWire"] + (usesEnumerations ? ["StrictJSON"] : []) + sharedModule, foundation: usesFoundation)
        code.block("extension \(options.namespace)") { code in
            for (index, message) in definition.messages.enumerated() {
                if index > 0 { code.line() }
                if let shared, shared.names.contains(message.name) {
                    let earlier = "``\(shared.namespace)/\(message.name)``"
                    code.doc("`\(definition.package).\(message.name)`: the same message as \(earlier), so the same type.")
                    code.line("public typealias \(message.name) = \(shared.namespace).\(message.name)")
                } else {
                    emit(message, into: &code)
                }
            }
        }
        if options.topLevelAliases {
            code.line()
            code.line("// The messages by their plain names as well, as this module has always offered them.")
            for message in definition.messages {
                code.line()
                code.doc("``\(options.namespace)/\(message.name)``.")
                code.line("public typealias \(message.name) = \(options.namespace).\(message.name)")
            }
        }
        return code.text
    }

    private var usesFoundation: Bool {
        ownMessages.contains { $0.fields.contains { $0.type == .uuid || $0.type == .dateTime } }
    }

    private func emit(_ message: ServiceDefinition.Message, into code: inout CodeWriter) {
        code.doc(summary(of: message))
        code.block("public struct \(message.name): RPCMessage, Hashable") { code in
            code.doc("`\(message.name)`, the message's name in `Schemas/\(definition.package).json`.")
            code.line("public static let messageName = \"\(message.name)\"")
            if !message.fields.isEmpty { code.line() }
            for field in message.fields {
                code.doc(fieldDoc(field))
                code.line("public var \(field.swiftName): \(swiftType(field, optional: !field.isRequired))")
            }
            code.line()
            code.doc("A message with these fields.")
            let parameters = message.fields.map { Self.parameter($0, type: Self.swiftType($0)) }
            code.block(
                "public init(\(parameters.joined(separator: ", ")))", lines: message.fields.map { "self.\($0.swiftName) = \($0.swiftName)" })
            code.line()
            code.doc("Reads the message's fields (see ``RPCMessage/init(fields:)``).")
            code.line("@inlinable")
            code.block("public init(fields: inout some MessageFieldReader)", lines: message.fields.map { "\($0.swiftName) = \(reader($0))" })
            code.line()
            code.doc("Writes the message's fields, in schema order.")
            code.line("@inlinable")
            code.block("public func write(fields: inout MessageFieldWriter)", lines: message.fields.map(writer))
            for field in message.fields {
                if case .enumeration(let cases) = field.type { emitEnumeration(field, cases: cases, into: &code) }
            }
        }
    }

    private func emitEnumeration(_ field: ServiceDefinition.Field, cases: [String], into code: inout CodeWriter) {
        let name = SwiftNames.upperCamel(field.name)
        code.line()
        code.doc("The values of `\(field.name)`, as the wire spells them.")
        code.block("public enum \(name): String, Sendable, Hashable, CaseIterable, MessageFieldValue") { code in
            for value in cases {
                code.doc("`\(value)`.")
                code.line("case \(SwiftNames.lowerCamel(value)) = \"\(value)\"")
            }
            code.line()
            code.doc("``\(SwiftNames.lowerCamel(cases[0]))``: the value a reader holds while it reports the field as missing.")
            code.line("public static var placeholder: \(name) { .\(SwiftNames.lowerCamel(cases[0])) }")
            code.line()
            code.doc("One of the names; anything else is a problem naming them.")
            code.block("public static func read(json: JSONValue) -> Result<\(name), FieldProblem>") { code in
                code.line("guard case .string(let text) = json else { return .failure(FieldProblem(\"must be a string, not \\(json.typeName)\")) }")
                code.block("guard let value = \(name)(rawValue: text) else") { code in
                    code.line("return .failure(FieldProblem(\"must be one of \\(allCases.map(\\.rawValue).joined(separator: \", \"))\"))")
                }
                code.line("return .success(value)")
            }
            code.line()
            code.doc("The value from plain string bytes.")
            code.block("public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> \(name)?") { code in
                code.line("isString ? \(name)(rawValue: String(decoding: bytes, as: UTF8.self)) : nil")
            }
            code.line()
            code.doc("Writes the name as a JSON string.")
            code.line("public func write(to writer: inout MessageFieldWriter) { rawValue.write(to: &writer) }")
        }
    }

    private func summary(of message: ServiceDefinition.Message) -> String {
        let qualified = "`\(definition.package).\(message.name)`"
        if let method = definition.methods.first(where: { $0.request == message.name }) {
            return "\(qualified): the request of `\(method.name)`."
        }
        let answering = definition.methods.filter { $0.response == message.name }.map { "`\($0.name)`" }
        if !answering.isEmpty {
            return "\(qualified): the response of \(answering.joined(separator: ", "))."
        }
        let holders = definition.messages.filter { $0.fields.contains { $0.type.heldMessage == message.name } }.map { "`\($0.name)`" }
        return "\(qualified)" + (holders.isEmpty ? "." : ": an element of \(holders.joined(separator: ", ")).")
    }

    private func fieldDoc(_ field: ServiceDefinition.Field) -> String {
        let wire = "`\(field.name)`" + (field.isRequired ? "" : ", optional")
        guard let description = field.description else {
            if case .messages(let element) = field.type { return "\(wire): the ``\(element)`` messages, in order." }
            return wire + "."
        }
        return "\(wire): \(SwiftNames.docText(description))"
    }

    func swiftType(_ field: ServiceDefinition.Field, optional: Bool) -> String {
        Self.swiftType(field) + (optional ? "?" : "")
    }

    /// The Swift type of a field's value, as the message holds it.
    static func swiftType(_ field: ServiceDefinition.Field) -> String {
        switch field.type {
        case .string: "String"
        case .uuid: "UUID"
        case .dateTime: "Date"
        case .integer(let unsigned): unsigned ? "UInt64" : "Int"
        case .boolean: "Bool"
        case .enumeration: SwiftNames.upperCamel(field.name)
        case .messages(let element): "[\(element)]"
        case .message(let element): element
        }
    }

    /// A field as a function parameter of type `type`: `name: Type`, or `name: Type? = nil` when
    /// it is optional (the messages' initializers, the typed client, the README's table).
    static func parameter(_ field: ServiceDefinition.Field, type: String) -> String {
        field.isRequired ? "\(field.swiftName): \(type)" : "\(field.swiftName): \(type)? = nil"
    }

    /// A field's type as code outside the namespace names it.
    static func qualifiedType(_ field: ServiceDefinition.Field, in message: String, namespace: String) -> String {
        switch field.type {
        case .enumeration: "\(namespace).\(message).\(swiftType(field))"
        case .messages(let element): "[\(namespace).\(element)]"
        case .message(let element): "\(namespace).\(element)"
        default: swiftType(field)
        }
    }

    private func writer(_ field: ServiceDefinition.Field) -> String {
        if case .messages = field.type { return "fields.field(\"\(field.name)\", messages: \(field.swiftName))" }
        if case .message = field.type { return "fields.field(\"\(field.name)\", message: \(field.swiftName))" }
        return "fields.field(\"\(field.name)\", \(field.swiftName))"
    }

    private func reader(_ field: ServiceDefinition.Field) -> String {
        if case .messages(let element) = field.type {
            return "fields.messages(\"\(field.name)\", as: \(element).self, required: \(field.isRequired))"
        }
        if case .message(let element) = field.type { return "fields.message(\"\(field.name)\", as: \(element).self)" }
        return "fields.\(field.isRequired ? "required" : "optional")(\"\(field.name)\", as: \(Self.swiftType(field)).self)"
    }
}

/// The messages a schema shares with an earlier version (``ServiceDefinition/messagesShared(with:)``),
/// and where that version's types are.
struct SharedMessages {
    var names: Set<String>
    /// The earlier version's namespace (`UserServiceV1`) and module (`UserV1`).
    var namespace: String
    var module: String
}
