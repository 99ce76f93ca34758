import StrictJSON

/// A service schema (`Schemas/<package>.json`) read into what the emitters need: its methods, its
/// messages with their fields in schema order, and the names the Swift code gives them.
struct ServiceDefinition {
    /// A method of the service.
    struct Method {
        /// `RegisterUser`.
        var name: String
        /// `user.v2.UserService/RegisterUser`.
        var fullName: String
        var request: String
        var response: String
        /// The schema's idempotency level (`NO_SIDE_EFFECTS`), or `nil` when it has none.
        var idempotency: String?
        var description: String
        /// Whether the method answers with a stream of messages (`"streaming": "server"`).
        var isServerStreaming = false
        /// How a client resumes the stream after it broke, when the schema says (`"resume"`).
        var resume: Resume?

        /// `registerUser`: the descriptor's and the client function's name.
        var swiftName: String { SwiftNames.lowerCamel(name) }
    }

    /// How a stream is resumed (`"resume": {"request_field": "since", "response_field": "cursor",
    /// "bookmarks_field": "bookmarks", "bookmark_kind": "BOOKMARK"}`): the request field that takes a
    /// message's cursor to start after it, the response field that holds it, and optionally the
    /// request flag asking for bookmarks (messages that carry only a cursor) with the value of the
    /// response's enum field that marks one.
    struct Resume {
        var requestField: String
        var responseField: String
        var bookmarksField: String?
        /// The enum field marking a bookmark, and its value (`kind`, `BOOKMARK`).
        var bookmarkKind: (field: String, value: String)?
    }

    /// A message: an object with fields.
    struct Message: Equatable {
        var name: String
        var fields: [Field]
    }

    /// A field of a message, in schema order.
    struct Field: Equatable {
        /// The name on the wire (`page_token`).
        var name: String
        var type: FieldType
        var isRequired: Bool
        var description: String?

        /// The Swift property's name (`pageToken`).
        var swiftName: String { SwiftNames.lowerCamel(name) }
    }

    /// The JSON Schema shapes the generator knows; anything else is a generation error.
    enum FieldType: Equatable {
        case string
        case uuid
        case dateTime
        /// `Int` when bounded above, `UInt64` when at least 0 with no upper bound.
        case integer(unsigned: Bool)
        case boolean
        /// A string with an `enum`: a nested Swift enum named after the field.
        case enumeration(cases: [String])
        /// An array of another message of the schema (`items: {"$ref": "#/messages/User"}`).
        case messages(String)
        /// Another message of the schema (`{"$ref": "#/messages/User"}`); always optional.
        case message(String)

        /// The message this field holds (alone or in an array), if any.
        var heldMessage: String? {
            switch self {
            case .messages(let name), .message(let name): name
            default: nil
            }
        }
    }

    /// `user.v2`.
    var package: String
    /// `UserService`.
    var service: String
    var methods: [Method]
    var messages: [Message]
    /// The schema file's text, byte for byte.
    var text: String

    /// `user.v2.UserService`.
    var fullServiceName: String { package + "." + service }

    /// The messages this schema has exactly as `earlier` has them — the same name and fields, and
    /// every message they hold shared too — which the generated code makes one type.
    func messagesShared(with earlier: ServiceDefinition) -> Set<String> {
        var shared = Set(messages.filter { message in earlier.messages.contains(message) }.map(\.name))
        // A message holding one that is not shared is not the same type either: drop until none is left.
        while let unshared = messages.first(where: { message in
            shared.contains(message.name)
                && message.fields.contains { $0.type.heldMessage.map { !shared.contains($0) } ?? false }
        }) {
            shared.remove(unshared.name)
        }
        return shared
    }

    /// The message of this name; every name a method or field uses was checked when the schema was read.
    func message(named name: String) -> Message {
        messages.first { $0.name == name }!
    }

    /// Reads the schema document `text`; `path` names it in errors.
    init(text: String, path: String) throws(GeneratorError) {
        let root: JSONObject
        do {
            guard case .object(let object) = try JSONParser().parse(Array(text.utf8)) else {
                throw GeneratorError("\(path): the schema is not a JSON object")
            }
            root = object
        } catch let error as GeneratorError {
            throw error
        } catch {
            throw GeneratorError("\(path): the schema is not valid JSON: \(error)")
        }
        func string(_ object: JSONObject, _ key: String, _ context: String) throws(GeneratorError) -> String {
            guard let value = object[key]?.stringValue else { throw GeneratorError("\(path): \(context) has no string '\(key)'") }
            return value
        }
        self.text = text
        package = try string(root, "package", "the schema")
        service = try string(root, "service", "the schema")
        guard case .array(let methodValues)? = root["methods"] else { throw GeneratorError("\(path): the schema has no 'methods' array") }
        var methods: [Method] = []
        for value in methodValues {
            guard let object = value.objectValue else { throw GeneratorError("\(path): a method is not an object") }
            let name = try string(object, "name", "a method")
            var method = Method(
                name: name, fullName: try string(object, "full_name", name), request: try string(object, "request", name),
                response: try string(object, "response", name), idempotency: object["idempotency"]?.stringValue,
                description: object["description"]?.stringValue ?? "",
                isServerStreaming: try Self.isServerStreaming(object["streaming"], method: name, path: path))
            if let resume = object["resume"] {
                method.resume = try Self.resume(resume, method: method, path: path)
            }
            guard method.fullName == "\(package).\(service)/\(name)" else {
                throw GeneratorError("\(path): \(name)'s full_name is \(method.fullName), not \(package).\(service)/\(name)")
            }
            methods.append(method)
        }
        guard !methods.isEmpty else { throw GeneratorError("\(path): the schema has no methods") }
        self.methods = methods
        guard let messageObjects = root["messages"]?.objectValue else { throw GeneratorError("\(path): the schema has no 'messages' object") }
        var messages: [Message] = []
        for member in messageObjects.members {
            guard let object = member.value.objectValue else { throw GeneratorError("\(path): message \(member.key) is not an object") }
            messages.append(try Self.message(member.key, object, path: path))
        }
        self.messages = messages
        let known = Set(messages.map(\.name))
        for method in methods {
            for name in [method.request, method.response] where !known.contains(name) {
                throw GeneratorError("\(path): \(method.name) names the message \(name), which the schema does not define")
            }
        }
        for message in messages {
            for field in message.fields {
                if let element = field.type.heldMessage, !known.contains(element) {
                    throw GeneratorError("\(path): \(message.name).\(field.name) refers to \(element), which the schema does not define")
                }
            }
        }
        try Self.checkNames(methods: methods, messages: messages, path: path)
        for method in methods {
            guard let resume = method.resume else { continue }
            try Self.check(resume, of: method, request: message(named: method.request), response: message(named: method.response), path: path)
        }
    }

    private static func resume(_ value: JSONValue, method: Method, path: String) throws(GeneratorError) -> Resume {
        guard method.isServerStreaming, let object = value.objectValue, let request = object["request_field"]?.stringValue,
            let response = object["response_field"]?.stringValue
        else {
            throw GeneratorError("\(path): \(method.name): 'resume' needs a server-streaming method and request_field and response_field")
        }
        var resume = Resume(requestField: request, responseField: response, bookmarksField: object["bookmarks_field"]?.stringValue)
        if let kind = object["bookmark_kind"]?.stringValue { resume.bookmarkKind = (field: "", value: kind) }
        guard (resume.bookmarksField == nil) == (resume.bookmarkKind == nil) else {
            throw GeneratorError("\(path): \(method.name): 'resume' takes bookmarks_field and bookmark_kind together")
        }
        return resume
    }

    /// The fields `resume` names exist with the types it needs; finds the enum field of the bookmark kind.
    private static func check(_ resume: Resume, of method: Method, request: Message, response: Message, path: String) throws(GeneratorError) {
        let place = "\(path): \(method.name)'s resume"
        guard request.fields.contains(where: { $0.name == resume.requestField && $0.type == .string && !$0.isRequired }) else {
            throw GeneratorError("\(place): \(request.name) needs an optional string field \(resume.requestField)")
        }
        guard response.fields.contains(where: { $0.name == resume.responseField && $0.type == .string && $0.isRequired }) else {
            throw GeneratorError("\(place): \(response.name) needs a required string field \(resume.responseField)")
        }
        if let flag = resume.bookmarksField, let kind = resume.bookmarkKind {
            guard request.fields.contains(where: { $0.name == flag && $0.type == .boolean && !$0.isRequired }) else {
                throw GeneratorError("\(place): \(request.name) needs an optional boolean field \(flag)")
            }
            guard
                response.fields.contains(where: {
                    if case .enumeration(let cases) = $0.type { cases.contains(kind.value) && $0.isRequired } else { false }
                })
            else { throw GeneratorError("\(place): \(response.name) needs a required enum field with the value \(kind.value)") }
        }
    }

    /// The resume of `method`, with its bookmark kind's field found in the response.
    func resume(of method: Method) -> Resume? {
        guard var resume = method.resume else { return nil }
        if let kind = resume.bookmarkKind,
            let field = message(named: method.response).fields.first(where: {
                if case .enumeration(let cases) = $0.type { cases.contains(kind.value) } else { false }
            })
        {
            resume.bookmarkKind = (field: field.name, value: kind.value)
        }
        return resume
    }

    /// A method's `streaming`: absent (unary) or `"server"`; anything else is a generation error.
    private static func isServerStreaming(_ value: JSONValue?, method: String, path: String) throws(GeneratorError) -> Bool {
        guard let value else { return false }
        guard value.stringValue == "server" else {
            throw GeneratorError("\(path): \(method)'s streaming must be \"server\" (or absent, for a unary method)")
        }
        return true
    }

    /// Names the generated Swift can use as they are: type-like names for methods and messages,
    /// snake_case field names and SCREAMING_SNAKE enum values that are not Swift keywords once
    /// camel-cased, and no field that clashes with what the generated code adds around it.
    private static func checkNames(methods: [Method], messages: [Message], path: String) throws(GeneratorError) {
        func matches(_ name: String, first: (Character) -> Bool, rest: (Character) -> Bool) -> Bool {
            guard let head = name.first, head.isASCII, first(head) else { return false }
            return name.dropFirst().allSatisfy { $0.isASCII && rest($0) }
        }
        let typeName = { (name: String) in matches(name, first: { $0.isUppercase }, rest: { $0.isLetter || $0.isNumber }) }
        for name in methods.map(\.name) + messages.map(\.name) where !typeName(name) || keywords.contains(SwiftNames.lowerCamel(name)) {
            throw GeneratorError("\(path): '\(name)' is not a name the generator can use: write it as ASCII UpperCamelCase, not a Swift keyword")
        }
        for message in messages {
            for field in message.fields {
                let place = "\(path): \(message.name).\(field.name)"
                guard matches(field.name, first: { $0.isLowercase }, rest: { $0.isLowercase || $0.isNumber || $0 == "_" }),
                    !keywords.contains(field.swiftName)
                else { throw GeneratorError("\(place): a field name must be ASCII snake_case and not a Swift keyword") }
                if methods.contains(where: { $0.request == message.name }), field.swiftName == "options" {
                    throw GeneratorError("\(place): 'options' is the typed client's parameter for a call's options; name the field otherwise")
                }
                guard case .enumeration(let cases) = field.type else { continue }
                guard !cases.isEmpty, Set(cases).count == cases.count else {
                    throw GeneratorError("\(place): an enum needs at least one value, each once")
                }
                guard !["type", "self", "protocol"].contains(field.name) else {
                    throw GeneratorError(
                        "\(place): an enum field is a nested Swift type named after it, and '\(SwiftNames.upperCamel(field.name))' cannot be one")
                }
                for value in cases
                where !matches(value, first: { $0.isUppercase }, rest: { $0.isUppercase || $0.isNumber || $0 == "_" })
                    || keywords.contains(SwiftNames.lowerCamel(value))
                {
                    throw GeneratorError("\(place): the enum value '\(value)' must be ASCII SCREAMING_SNAKE_CASE, not a Swift keyword")
                }
            }
        }
    }

    /// Swift keywords that cannot be a property, case or function name as they are.
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout", "internal", "let",
        "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias",
        "var", "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
        "return", "throw", "switch", "where", "while", "as", "false", "is", "nil", "self", "super", "throws", "true", "try", "await",
        "any", "some", "Self", "Type", "Protocol",
    ]

    private static func message(_ name: String, _ object: JSONObject, path: String) throws(GeneratorError) -> Message {
        guard object["type"]?.stringValue == "object" else { throw GeneratorError("\(path): message \(name) is not of type object") }
        var required: Set<String> = []
        if case .array(let names)? = object["required"] { required = Set(names.compactMap(\.stringValue)) }
        var fields: [Field] = []
        for member in object["properties"]?.objectValue?.members ?? [] {
            guard let property = member.value.objectValue else { throw GeneratorError("\(path): \(name).\(member.key) is not an object") }
            let type = try fieldType(property, at: "\(name).\(member.key)", path: path)
            if case .messages = type, !required.contains(member.key) {
                throw GeneratorError("\(path): \(name).\(member.key): an array field must be required (send it empty)")
            }
            if case .message(let held) = type {
                guard !required.contains(member.key) else {
                    throw GeneratorError("\(path): \(name).\(member.key): a message field must be optional")
                }
                // A struct cannot hold itself (an array of itself it can).
                guard held != name else { throw GeneratorError("\(path): \(name).\(member.key): a message cannot hold itself") }
            }
            fields.append(
                Field(name: member.key, type: type, isRequired: required.contains(member.key), description: property["description"]?.stringValue))
        }
        return Message(name: name, fields: fields)
    }

    private static func fieldType(_ property: JSONObject, at place: String, path: String) throws(GeneratorError) -> FieldType {
        if let reference = property["$ref"]?.stringValue {
            guard reference.hasPrefix("#/messages/") else {
                throw GeneratorError("\(path): \(place): a reference must name a message (\"#/messages/Name\")")
            }
            return .message(String(reference.dropFirst("#/messages/".count)))
        }
        switch property["type"]?.stringValue {
        case "string":
            if case .array(let cases)? = property["enum"] {
                let names = cases.compactMap(\.stringValue)
                guard names.count == cases.count else { throw GeneratorError("\(path): \(place): every enum value must be a string") }
                return .enumeration(cases: names)
            }
            switch property["format"]?.stringValue {
            case nil: return .string
            case "uuid": return .uuid
            case "date-time": return .dateTime
            case let format?: throw GeneratorError("\(path): \(place): string format '\(format)' is not supported")
            }
        case "integer":
            let minimum = property["minimum"].flatMap(\.intValue)
            return .integer(unsigned: property["maximum"] == nil && (minimum ?? -1) >= 0)
        case "boolean":
            return .boolean
        case "array":
            guard let reference = property["items"]?.objectValue?["$ref"]?.stringValue, reference.hasPrefix("#/messages/") else {
                throw GeneratorError("\(path): \(place): arrays must hold messages ({\"$ref\": \"#/messages/Name\"})")
            }
            return .messages(String(reference.dropFirst("#/messages/".count)))
        case let type:
            throw GeneratorError("\(path): \(place): type '\(type ?? "none")' is not supported")
        }
    }
}

/// Why a schema could not be turned into code.
struct GeneratorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
