import StrictJSON

/// A service schema (`Schemas/<package>.json`) read into a model that tools can walk: the server
/// checks each service it hosts against its schema, reflection serves it, and the CLI derives its
/// flags from it.
public struct ServiceSchema: Sendable, Hashable {
    /// One method as the schema lists it.
    public struct Method: Sendable, Hashable {
        /// The method's short name (`GetUser`).
        public var name: String
        /// The name on the wire: `package.Service/Method`.
        public var fullName: String
        /// The name of its request message in ``ServiceSchema/messages``.
        public var request: String
        /// The name of its response message in ``ServiceSchema/messages``.
        public var response: String
        /// What the method does, for people; empty when the schema gives none.
        public var description: String
        /// Whether a call may be sent again after a failure that leaves its outcome unknown
        /// (the schema's `idempotency`; gRPC's `idempotency_level`, plus one level of this protocol's).
        public var idempotency: Idempotency = .unknown
        /// The schema's `streaming`: `"server"` for a method that answers with a stream of messages
        /// then a final status; `nil` for a unary method (one response). A kind this build does not
        /// know (a newer server's) is kept as it is, and such a method cannot be called by this build.
        public var streaming: String?

        /// Whether the method is server-streaming (`"streaming": "server"`).
        public var isServerStreaming: Bool { streaming == "server" }
    }

    /// A method's `idempotency` in the schema: whether a client may retry its calls.
    public enum Idempotency: String, Sendable, Hashable {
        /// No level given: calls are never retried.
        case unknown = ""
        /// `NO_SIDE_EFFECTS`: a read; always safe to retry.
        case noSideEffects = "NO_SIDE_EFFECTS"
        /// `IDEMPOTENT`: doing it twice is doing it once; safe to retry.
        case idempotent = "IDEMPOTENT"
        /// `WITH_IDEMPOTENCY_KEY`: safe to retry only when the call carries an `idempotency-key`
        /// metadata entry, which the server honours (PROTOCOL.md section 5.2).
        case withIdempotencyKey = "WITH_IDEMPOTENCY_KEY"

        /// Whether a call with this metadata may be retried.
        public func allowsRetry(metadata: [String: String]) -> Bool {
            switch self {
            case .unknown: false
            case .noSideEffects, .idempotent: true
            case .withIdempotencyKey: metadata["idempotency-key"] != nil
            }
        }
    }

    /// One top-level field of a message.
    public struct Field: Sendable, Hashable {
        /// The field's JSON name (`page_token`).
        public var name: String
        /// The JSON Schema `type`: `"string"`, `"integer"`, `"array"`, ….
        public var type: String
        /// Whether the message's `required` list names the field.
        public var isRequired: Bool
        /// The field's description in the schema; empty when there is none.
        public var description: String
    }

    /// Why a schema document cannot be read.
    public enum LoadError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The document is not JSON that ``JSONParser`` accepts.
        case invalidJSON(JSONParseError)
        /// The document is JSON but lacks what a schema needs; the text says what.
        case malformed(String)

        /// What is wrong, for people.
        public var description: String {
            switch self {
            case .invalidJSON(let error): "schema is not valid JSON: \(error)"
            case .malformed(let what): "schema is malformed: \(what)"
            }
        }
    }

    /// The schema package, for example `user.v1`.
    public var package: String
    /// The service's name within the package, for example `UserService`.
    public var service: String
    /// The service's methods, in schema order.
    public var methods: [Method]
    /// Each message's JSON Schema, by message name.
    public var messages: [String: JSONObject]
    /// The schema document as read, byte for byte (what reflection serves).
    public var text: String

    /// The service's full name: `package.Service`.
    public var fullServiceName: String { package + "." + service }

    /// Reads a schema document.
    public init(json text: String) throws(LoadError) {
        let root: JSONValue
        do {
            root = try JSONParser().parse(text)
        } catch {
            throw .invalidJSON(error)
        }
        guard case .object(let object) = root,
            let package = object["package"]?.stringValue,
            let service = object["service"]?.stringValue,
            case .array(let methodValues)? = object["methods"],
            case .object(let messageObject)? = object["messages"]
        else { throw .malformed("needs package, service, methods and messages") }
        self.package = package
        self.service = service
        self.text = text
        var methods: [Method] = []
        for value in methodValues {
            guard case .object(let m) = value, let name = m["name"]?.stringValue,
                let fullName = m["full_name"]?.stringValue, let request = m["request"]?.stringValue,
                let response = m["response"]?.stringValue
            else { throw .malformed("a method needs name, full_name, request and response") }
            guard fullName == "\(package).\(service)/\(name)" else {
                throw .malformed("method \(name): full_name must be \(package).\(service)/\(name), not \(fullName)")
            }
            // A level this build does not know (a newer server's) reads as none: never retried. (A
            // service's own schema is checked against its descriptors, which name a known level.)
            let idempotency = m["idempotency"]?.stringValue.flatMap(Idempotency.init(rawValue:)) ?? .unknown
            if let value = m["streaming"], value.stringValue == nil { throw .malformed("method \(name): streaming must be a string") }
            methods.append(
                Method(
                    name: name, fullName: fullName, request: request, response: response,
                    description: m["description"]?.stringValue ?? "", idempotency: idempotency, streaming: m["streaming"]?.stringValue))
        }
        self.methods = methods
        var messages: [String: JSONObject] = [:]
        for member in messageObject.members {
            guard case .object(let schema) = member.value else { throw .malformed("message \(member.key) is not an object") }
            messages[member.key] = schema
        }
        self.messages = messages
        for method in methods where messages[method.request] == nil || messages[method.response] == nil {
            throw .malformed("method \(method.name) names a message that is not defined")
        }
    }

    /// Reads a schema that is built into the program; a schema that does not load is a build error.
    public init(embedded text: String) {
        do {
            try self.init(json: text)
        } catch {
            fatalError("an embedded service schema does not load: \(error)")
        }
    }

    /// The method with this short name (`GetUser`, matched case-insensitively) or full name.
    public func method(named name: String) -> Method? {
        methods.first { $0.fullName == name || $0.name.lowercased() == name.lowercased() }
    }

    /// The top-level fields of a message, in schema order.
    public func fields(of message: String) -> [Field] {
        guard let schema = messages[message], case .object(let properties)? = schema["properties"] else { return [] }
        var required: Set<String> = []
        if case .array(let names)? = schema["required"] {
            required = Set(names.compactMap(\.stringValue))
        }
        return properties.members.map { member in
            let property = member.value.objectValue
            return Field(
                name: member.key,
                type: property?["type"]?.stringValue ?? (property?["$ref"] != nil ? "object" : "any"),
                isRequired: required.contains(member.key),
                description: property?["description"]?.stringValue ?? "")
        }
    }
}
