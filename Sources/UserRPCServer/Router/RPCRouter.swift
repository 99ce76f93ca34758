import NIOCore
import StrictJSON
import UserRPCWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the handler of a call by its full method name (`user.v1.UserService/GetUser`).
///
/// Services fill it through ``RPCService/registerMethods(with:)``; the connection looks routes up by
/// the method's bytes as they are in the request frame, so a call's route is found without making a
/// string.
public struct RPCRouter: Sendable {
    private(set) var routes: [String: MethodRoute] = [:]
    /// Methods registered more than once.
    private(set) var duplicates: [String] = []

    public init() {}

    /// Registers the handler of `method`.
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, inout ServerContext) -> ServerAnswer<Response>
    ) {
        if routes[method.fullName] != nil { duplicates.append(method.fullName) }
        routes[method.fullName] = TypedMethodRoute(method: method, handler: handler)
    }

    /// The full names of the registered methods, sorted.
    public var methodNames: [String] { routes.keys.sorted() }
}

/// A method's handler with its message types erased: what the connection calls.
///
/// `@unchecked Sendable`: immutable after creation.
class MethodRoute: @unchecked Sendable {
    let fullName: String
    let service: String
    let name: String
    let requestMessageName: String
    let responseMessageName: String
    /// `fullName`'s bytes, compared with a request frame's method bytes.
    let utf8: [UInt8]

    init(service: String, name: String, fullName: String, requestMessageName: String, responseMessageName: String) {
        self.service = service
        self.name = name
        self.fullName = fullName
        self.requestMessageName = requestMessageName
        self.responseMessageName = responseMessageName
        self.utf8 = Array(fullName.utf8)
    }

    /// Reads the request, runs the handler, and writes an OK answer given now into `output`.
    func serve(_ payload: RequestPayload, parser: JSONParser, context: inout ServerContext, output: inout ByteBuffer) -> RouteOutcome {
        preconditionFailure("MethodRoute is abstract")
    }
}

/// A request's payload as the connection has it.
enum RequestPayload {
    /// The plain members the scanner read from the frame `frame` (the hot path). If the request
    /// message cannot be read from them, the frame is parsed and its payload read the general way.
    case plain(ScannedPayload, frame: UnsafeRawBufferPointer)
    /// The parsed payload object.
    case json(JSONObject)
}

/// What a route did with a call.
enum RouteOutcome {
    /// Answered OK: the response is in the output.
    case answeredOK
    /// Answered with an error, for the connection to write.
    case failed(RPCError)
    /// The answer comes later, from any thread.
    case pending(PendingAnswer<any RPCMessage>)
}

final class TypedMethodRoute<Request: RPCMessage, Response: RPCMessage>: MethodRoute, @unchecked Sendable {
    private let handler: @Sendable (Request, inout ServerContext) -> ServerAnswer<Response>

    init(method: MethodDescriptor<Request, Response>, handler: @escaping @Sendable (Request, inout ServerContext) -> ServerAnswer<Response>) {
        self.handler = handler
        super.init(
            service: method.service, name: method.name, fullName: method.fullName, requestMessageName: Request.messageName,
            responseMessageName: Response.messageName)
    }

    override func serve(_ payload: RequestPayload, parser: JSONParser, context: inout ServerContext, output: inout ByteBuffer) -> RouteOutcome {
        let request: Request
        switch readRequest(payload, parser: parser) {
        case .success(let value): request = value
        case .failure(let error): return .failed(error)
        }
        switch handler(request, &context) {
        case .now(.success(let response)):
            ResponseFrameWriter.writeOK(id: context.callID, metadata: context.responseMetadata, message: response, into: &output)
            return .answeredOK
        case .now(.failure(let error)):
            return .failed(error)
        case .later(let pending):
            return .pending(
                PendingAnswer { complete in
                    pending.start { result in complete(result.map { $0 as any RPCMessage }) }
                })
        }
    }

    /// The request from the scanned members when they read as one, otherwise from the parsed payload
    /// (which then gives every violation).
    private func readRequest(_ payload: RequestPayload, parser: JSONParser) -> Result<Request, RPCError> {
        let object: JSONObject
        switch payload {
        case .plain(let members, let frame):
            if let request = Request.decode(plain: members, in: frame, unknownFields: .reject) { return .success(request) }
            // The scanner accepted the frame, so it parses; its payload decides the exact error.
            guard case .request(let envelope)? = try? ClientFrame.decode(frame, parser: parser) else {
                return .failure(RPCError(code: .internal, message: "internal error"))
            }
            object = envelope.payload
        case .json(let parsed):
            object = parsed
        }
        do {
            return .success(try Request.decode(json: object, unknownFields: .reject))
        } catch {
            return .failure(.invalidArgument(error.violations))
        }
    }
}

extension RPCRouter {
    /// The route whose full name is exactly these bytes.
    func route(utf8 name: UnsafeRawBufferPointer) -> MethodRoute? {
        for route in routes.values where route.utf8.count == name.count {
            let same = route.utf8.withUnsafeBytes { memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0 }
            if same { return route }
        }
        return nil
    }

    /// The route of this full name.
    func route(named name: String) -> MethodRoute? { routes[name] }

    /// Adds the routes of `service` after checking them against its schema; every mismatch is added
    /// to `problems`.
    mutating func add(_ service: any RPCService, problems: inout [String]) {
        var own = RPCRouter()
        service.registerMethods(with: &own)
        let schema = service.schema
        let serviceName = schema.fullServiceName
        for name in own.duplicates { problems.append("\(name) is registered twice") }
        for method in schema.methods {
            guard let route = own.routes[method.fullName] else {
                problems.append("\(serviceName): the schema's method \(method.name) has no handler")
                continue
            }
            if route.requestMessageName != method.request {
                problems.append("\(method.fullName): the handler reads \(route.requestMessageName), the schema says \(method.request)")
            }
            if route.responseMessageName != method.response {
                problems.append("\(method.fullName): the handler answers \(route.responseMessageName), the schema says \(method.response)")
            }
        }
        for (name, route) in own.routes.sorted(by: { $0.key < $1.key }) where !schema.methods.contains(where: { $0.fullName == name }) {
            problems.append(
                "\(name) has a handler but is not a method of \(serviceName)'s schema" + (route.service == serviceName ? "" : " (another service)"))
        }
        for (name, route) in own.routes {
            if routes[name] != nil { problems.append("\(name) is served by two services") }
            routes[name] = route
        }
    }
}
