import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import StrictJSON
import Testing
import UserRPCServer
import UserRPCWire

/// Services are checked against their schemas when the server is made, and interceptors run around
/// every call.
@Suite("Services, schemas and interceptors")
struct ServiceModelTests {
    /// A service of the test schema that registers what it is given.
    struct PartialService: RPCService {
        var register: @Sendable (inout RPCRouter) -> Void
        var schema: ServiceSchema { ServiceSchema(embedded: TestService.schemaText) }
        func registerMethods(with router: inout RPCRouter) { register(&router) }
    }

    /// A message named like none in the test schema.
    struct Stranger: RPCMessage {
        static let messageName = "Stranger"
        init() {}
        init(fields: inout some MessageFieldReader) {}
        func write(fields: inout MessageFieldWriter) {}
    }

    func problems(_ services: [any RPCService]) -> [String] {
        do {
            _ = try UserRPCServer(configuration: .init(), services: services, eventLoopGroup: EmbeddedEventLoop())
            return []
        } catch {
            return error.problems
        }
    }

    @Test("a schema method without a handler stops the server from starting, naming the method")
    func missingHandler() {
        let service = PartialService { router in
            router.register(TestService.echo) { request, _ in .ok(request) }
            router.register(TestService.meta) { request, _ in .ok(request) }
        }
        #expect(problems([service]) == ["test.v1.Test: the schema's method Hold has no handler"])
    }

    @Test("a handler for a method the schema does not have stops the server from starting, naming it")
    func handlerWithoutMethod() {
        let extra = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Test", name: "Shout")
        let service = PartialService { router in
            TestService().registerMethods(with: &router)
            router.register(extra) { request, _ in .ok(request) }
        }
        #expect(problems([service]) == ["test.v1.Test/Shout has a handler but is not a method of test.v1.Test's schema"])
    }

    @Test("a handler whose messages are not the schema's, or a method served twice, is named")
    func wrongMessagesAndDuplicates() {
        let wrong = MethodDescriptor<Stranger, TextMessage>(service: "test.v1.Test", name: "Echo")
        let service = PartialService { router in
            TestService().registerMethods(with: &router)
            router.register(wrong) { _, _ in .ok(TextMessage(text: "")) }
        }
        #expect(
            problems([service]) == [
                "test.v1.Test/Echo is registered twice", "test.v1.Test/Echo: the handler reads Stranger, the schema says Text",
            ])
        #expect(problems([TestService(), TestService()]).allSatisfy { $0.hasSuffix("is served by two services") })
        #expect(problems([TestService()]).isEmpty)
    }

    @Test("a descriptor whose idempotency level is not the schema's is named: clients retry by the descriptor")
    func idempotencyMismatch() throws {
        let retried = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Test", name: "Hold", idempotency: .noSideEffects)
        let service = PartialService { router in
            router.register(TestService.echo) { request, _ in .ok(request) }
            router.register(TestService.meta) { request, _ in .ok(request) }
            router.register(retried) { request, _ in .ok(request) }
        }
        #expect(problems([service]) == ["test.v1.Test/Hold: the descriptor's idempotency is 'NO_SIDE_EFFECTS', the schema says ''"])
        // A level this build does not know reads as none (never retried), so a newer server's schema still loads.
        let newer = try ServiceSchema(
            json:
                #"{"package":"p.v1","service":"S","methods":[{"name":"M","full_name":"p.v1.S/M","request":"T","response":"T","idempotency":"SOMETIMES"}],"messages":{"T":{}}}"#
        )
        #expect(newer.methods.first?.idempotency == .unknown)
    }

    /// Counts what it sees and refuses calls whose metadata lacks `x-allow`.
    final class RecordingInterceptor: ServerInterceptor {
        let answered = NIOLockedValueBox<[String]>([])
        func willRun(_ context: inout ServerContext) -> RPCError? {
            context.responseMetadata["x-seen"] = context.requestMetadata["x-request-id"] ?? "none"
            guard context.requestMetadata["x-allow"] != nil else { return RPCError(code: .permissionDenied, message: "not allowed") }
            return nil
        }
        func didAnswer(_ context: ServerContext, code: RPCStatus.Code) {
            answered.withLockedValue { $0.append("\(context.callID) \(context.method) \(code)") }
        }
    }

    @Test("interceptors refuse calls, add response metadata, and see every answer; handlers see request metadata")
    func interceptors() throws {
        let interceptor = RecordingInterceptor()
        let connection = try ServedChannel(interceptors: [interceptor])
        try connection.send(#"{"type":"request","id":1,"method":"test.v1.Test/Echo","payload":{"text":"no"}}"#)
        // Metadata on the fast path (plain strings), read by the interceptor and the handler.
        try connection.send(
            #"{"type":"request","id":2,"method":"test.v1.Test/Meta","metadata":{"x-allow":"1","x-request-id":"r2"},"payload":{"text":"x-allow"}}"#)
        try connection.send(#"{"type":"request","id":3,"method":"test.v1.Test/Nope","metadata":{"x-allow":"1"}}"#)
        let frames = try connection.readFrames()
        #expect(frames.map(\.statusCode) == ["PERMISSION_DENIED", "OK", "UNIMPLEMENTED"])
        #expect(frames[0]["metadata"]?.objectValue?["x-seen"] == "none")
        #expect(frames[0]["metadata"]?.objectValue?["x-request-id"] != nil, "the server's request id comes with a refusal too")
        #expect(frames[1]["metadata"]?.objectValue == JSONObject(["echoed": "yes", "x-request-id": "r2", "x-seen": "r2"]))
        #expect(frames[1]["payload"]?.objectValue?["text"] == "1")
        #expect(
            interceptor.answered.withLockedValue { $0 } == [
                "1 test.v1.Test/Echo PERMISSION_DENIED", "2 test.v1.Test/Meta OK", "3 test.v1.Test/Nope UNIMPLEMENTED",
            ])
    }

    @Test("bearer tokens: a call without a valid token is UNAUTHENTICATED, with one it runs; an open service needs none")
    func bearerTokens() throws {
        let connection = try ServedChannel { $0.authTokens = ["s3cret"] }
        let open = try ServedChannel {
            $0.authTokens = ["s3cret"]
            $0.unauthenticatedServices = ["test.v1.Test"]
        }
        for (id, metadata) in [
            (1, ""), (2, #","metadata":{"authorization":"Bearer wrong"}"#), (3, #","metadata":{"authorization":"Bearer s3cret"}"#),
        ] {
            try connection.send(#"{"type":"request","id":\#(id),"method":"test.v1.Test/Echo"\#(metadata),"payload":{"text":"t"}}"#)
        }
        #expect(try connection.readFrames().map(\.statusCode) == ["UNAUTHENTICATED", "UNAUTHENTICATED", "OK"])
        try open.send(#"{"type":"request","id":1,"method":"test.v1.Test/Echo","payload":{"text":"t"}}"#)
        #expect(try open.readFrames().map(\.statusCode) == ["OK"])
    }
}
