import NIOCore
import NowOrLater
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
    private(set) var routes: [String: MethodRoute] = [:] {
        didSet {
            routesByHash = Dictionary(routes.values.map { (Self.hash($0.utf8.withUnsafeBytes { $0 }), $0) }, uniquingKeysWith: { first, _ in first })
        }
    }
    /// The routes by a hash of their name's bytes, for the lookup of a request's method bytes.
    private var routesByHash: [UInt64: MethodRoute] = [:]
    /// Methods registered more than once.
    private(set) var duplicates: [String] = []

    public init() {}

    /// Registers the handler of `method`.
    ///
    /// Inlinable: the route's per-call work (read the request, run the handler, write the answer) is
    /// built here, where the request and response types are known, so it runs specialized for them —
    /// no generic dispatch and no runtime type lookups on a call's path.
    @inlinable
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, inout ServerContext) -> ServerAnswer<Response>
    ) {
        add(
            MethodRoute(
                service: method.service, name: method.name, fullName: method.fullName, requestMessageName: Request.messageName,
                responseMessageName: Response.messageName, idempotency: method.idempotency,
                serve: { payload, parser, context, output in
                    let request: Request
                    switch MethodRoute.readRequest(Request.self, payload, parser: parser) {
                    case .success(let value): request = value
                    case .failure(let error): return .failure(error)
                    }
                    switch handler(request, &context) {
                    case .now(.success(let response)):
                        ResponseFrameWriter.writeOK(
                            id: context.callID, requestID: context.requestIDValue, metadata: context.responseMetadata, message: response,
                            into: &output)
                        return .success(nil)
                    case .now(.failure(let error)):
                        return .failure(error)
                    case .later(let pending):
                        return .later(.init { complete in pending.start { complete($0.map { $0 as any RPCMessage }) } })
                    }
                }))
    }

    /// Registers the handler of the server-streaming `method`: it writes the stream's messages to
    /// its writer (each write waits for the client's credit) and returns to end the stream OK, or
    /// throws to end it with that status. It runs in a task of its own, which the end of the call
    /// (the client's cancel, the deadline, the end of a graceful shutdown) cancels.
    public mutating func registerServerStreaming<Request, Response>(
        _ method: ServerStreamingMethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, ServerContext, ServerStreamWriter<Response>) async throws(RPCError) -> Void
    ) {
        add(
            MethodRoute(
                service: method.service, name: method.name, fullName: method.fullName, requestMessageName: Request.messageName,
                responseMessageName: Response.messageName, idempotency: .unknown, isServerStreaming: true,
                serve: { payload, parser, context, _ in
                    let request: Request
                    switch MethodRoute.readRequest(Request.self, payload, parser: parser) {
                    case .success(let value): request = value
                    case .failure(let error): return .failure(error)
                    }
                    guard let sink = context.streamSink else { return .failure(RPCError(code: .internal, message: "internal error")) }
                    let writer = ServerStreamWriter<Response>(sink: sink)
                    let call = context
                    return .later(
                        .init { complete in
                            let task = Task {
                                do throws(RPCError) {
                                    try await handler(request, call, writer)
                                    complete(.success(nil))
                                } catch {
                                    complete(.failure(error))
                                }
                            }
                            return { task.cancel() }
                        })
                }))
    }

    @usableFromInline
    mutating func add(_ route: MethodRoute) {
        if routes[route.fullName] != nil { duplicates.append(route.fullName) }
        routes[route.fullName] = route
    }

    /// The full names of the registered methods, sorted.
    public var methodNames: [String] { routes.keys.sorted() }

    /// Gives each route its position in ``methodNames`` (``MethodRoute/index``), once every service
    /// is registered: per-method tables (the metrics) are then arrays indexed by it.
    func numberRoutes() {
        for (index, name) in methodNames.enumerated() { routes[name]?.index = index }
    }
}

/// A method's handler with its message types erased: what the connection calls.
///
/// `@unchecked Sendable`: immutable once the server is made (``index`` is set while it is made,
/// before any connection sees the route).
@usableFromInline
final class MethodRoute: @unchecked Sendable {
    @usableFromInline typealias Serve = @Sendable (RequestPayload, JSONParser, inout ServerContext, inout ByteBuffer) -> RouteAnswer

    let fullName: String
    let service: String
    let name: String
    let requestMessageName: String
    let responseMessageName: String
    /// The descriptor's idempotency level, checked against the schema's.
    let idempotency: ServiceSchema.Idempotency
    /// Whether calls answer with a stream of messages before their response (checked against the schema).
    let isServerStreaming: Bool
    /// `fullName`'s bytes, compared with a request frame's method bytes.
    let utf8: [UInt8]
    /// Its position among the server's sorted method names (``RPCRouter/numberRoutes()``).
    var index = -1
    private let serveCall: Serve

    @usableFromInline
    init(
        service: String, name: String, fullName: String, requestMessageName: String, responseMessageName: String,
        idempotency: ServiceSchema.Idempotency, isServerStreaming: Bool = false, serve: @escaping Serve
    ) {
        self.idempotency = idempotency
        self.isServerStreaming = isServerStreaming
        self.service = service
        self.name = name
        self.fullName = fullName
        self.requestMessageName = requestMessageName
        self.responseMessageName = responseMessageName
        self.utf8 = Array(fullName.utf8)
        self.serveCall = serve
    }

    /// Whether ``fullName`` is exactly these bytes.
    func hasName(_ name: UnsafeRawBufferPointer) -> Bool {
        utf8.count == name.count && utf8.withUnsafeBytes { memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0 }
    }

    /// Reads the request, runs the handler, and writes an OK answer given now into `output`.
    func serve(_ payload: RequestPayload, parser: JSONParser, context: inout ServerContext, output: inout ByteBuffer) -> RouteAnswer {
        serveCall(payload, parser, &context, &output)
    }

    /// The request from the scanned members when they read as one, otherwise from the parsed payload
    /// (which then gives every violation).
    @inlinable
    static func readRequest<Request: RPCMessage>(_ type: Request.Type, _ payload: RequestPayload, parser: JSONParser) -> Result<Request, RPCError> {
        switch payload {
        case .plain(let members, let frame):
            if let request = Request.decode(plain: members, in: frame, unknownFields: .reject) { return .success(request) }
            return readRequestSlowly(type, frame: frame, parser: parser)
        case .json(let object):
            return decode(type, object)
        }
    }

    /// The scanner accepted the frame, so it parses; its payload decides the exact error.
    @usableFromInline
    static func readRequestSlowly<Request: RPCMessage>(_ type: Request.Type, frame: UnsafeRawBufferPointer, parser: JSONParser) -> Result<
        Request, RPCError
    > {
        guard case .request(let envelope)? = try? ClientFrame.decode(frame, parser: parser) else {
            return .failure(RPCError(code: .internal, message: "internal error"))
        }
        return decode(type, envelope.payload)
    }

    @usableFromInline
    static func decode<Request: RPCMessage>(_ type: Request.Type, _ object: JSONObject) -> Result<Request, RPCError> {
        do {
            return .success(try Request.decode(json: object, unknownFields: .reject))
        } catch {
            return .failure(.invalidArgument(error.violations))
        }
    }
}

/// A request's payload as the connection has it.
@usableFromInline
enum RequestPayload {
    /// The plain members the scanner read from the frame `frame` (the hot path; both valid for the
    /// duration of the route's `serve` only). If the request
    /// message cannot be read from them, the frame is parsed and its payload read the general way.
    case plain(UnsafePointer<ScannedPayload>, frame: UnsafeRawBufferPointer)
    /// The parsed payload object.
    case json(JSONObject)
}

/// What a route did with a call: the one answer type, its value erased to "a message" — `nil` when
/// the OK response was given now and is already written into the output (the common case, which
/// so boxes nothing).
@usableFromInline
typealias RouteAnswer = Answer<(any RPCMessage)?, RPCError>

extension RPCRouter {
    /// The route whose full name is exactly these bytes.
    func route(utf8 name: UnsafeRawBufferPointer) -> MethodRoute? {
        if let route = routesByHash[Self.hash(name)], Self.same(route, name) { return route }
        // Not found by its hash: an unknown method, or (vanishingly unlikely) two names with one hash.
        return routes.values.first { Self.same($0, name) }
    }

    private static func same(_ route: MethodRoute, _ name: UnsafeRawBufferPointer) -> Bool {
        route.hasName(name)
    }

    /// FNV-1a over the bytes (a name that collides with a route's is told apart by the comparison).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
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
            if route.isServerStreaming != method.isServerStreaming {
                problems.append(
                    "\(method.fullName): the handler is \(route.isServerStreaming ? "server-streaming" : "unary"), the schema says "
                        + (method.streaming.map { "streaming '\($0)'" } ?? "unary"))
            }
            if route.idempotency != method.idempotency {
                // Clients decide retries by the descriptor they were built with: it must say what the schema says.
                problems.append(
                    "\(method.fullName): the descriptor's idempotency is '\(route.idempotency.rawValue)', the schema says '\(method.idempotency.rawValue)'"
                )
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
