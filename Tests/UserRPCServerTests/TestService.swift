import NIOConcurrencyHelpers
import UserRPCServer
import UserRPCWire

/// `{"text": …}`: the request and response of the test service.
struct TextMessage: RPCMessage, Hashable {
    static let messageName = "Text"
    var text: String
    init(text: String) { self.text = text }
    init(fields: inout some MessageFieldReader) { text = fields.required("text", as: String.self) }
    func write(fields: inout MessageFieldWriter) { fields.field("text", text) }
}

/// `test.v1.Test`: `Echo` answers at once; `Hold` answers when the test releases it (or never),
/// so a call can be kept in flight for as long as a test needs, without a store or a sleep.
struct TestService: RPCService {
    static let schemaText = #"""
        {"package":"test.v1","service":"Test","methods":[
          {"name":"Echo","full_name":"test.v1.Test/Echo","request":"Text","response":"Text"},
          {"name":"Hold","full_name":"test.v1.Test/Hold","request":"Text","response":"Text"},
          {"name":"Meta","full_name":"test.v1.Test/Meta","request":"Text","response":"Text"}],
         "messages":{"Text":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}}}
        """#
    static let echo = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Test", name: "Echo")
    static let hold = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Test", name: "Hold")
    /// Answers the request's metadata entry named by the text, and sets the response metadata `echoed`.
    static let meta = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Test", name: "Meta")

    let holds = HeldCalls()

    var schema: ServiceSchema { ServiceSchema(embedded: Self.schemaText) }

    func registerMethods(with router: inout RPCRouter) {
        router.register(Self.echo) { request, _ in .ok(request) }
        router.register(Self.meta) { request, context in
            context.responseMetadata["echoed"] = "yes"
            return .ok(TextMessage(text: context.requestMetadata[request.text] ?? "-"))
        }
        let holds = self.holds
        router.register(Self.hold) { request, _ in
            .later(.init { complete in holds.hold(request.text, complete) })
        }
    }
}

/// The calls `Hold` keeps, by their text: released by the test, or stopped by the connection.
final class HeldCalls: Sendable {
    private struct Held {
        var waiting: [String: @Sendable (Result<TextMessage, RPCError>) -> Void] = [:]
        var stopped: [String] = []
    }
    private let state = NIOLockedValueBox(Held())
    private let stops = AsyncStream.makeStream(of: String.self)

    func hold(_ text: String, _ complete: @escaping @Sendable (Result<TextMessage, RPCError>) -> Void) -> @Sendable () -> Void {
        state.withLockedValue { $0.waiting[text] = complete }
        return { [state, stops] in
            state.withLockedValue { $0.stopped.append(text) }
            stops.continuation.yield(text)
        }
    }

    /// The text of the next call whose work the connection stops (it stops work off the event loop,
    /// so it is awaited), or `nil` if none is stopped within 30 s.
    func nextStop() async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { [stops] in
                var iterator = stops.stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Answers the held call `text` OK; `false` when no call holds that text.
    @discardableResult
    func release(_ text: String) -> Bool {
        guard let complete = state.withLockedValue({ $0.waiting.removeValue(forKey: text) }) else { return false }
        complete(.success(TextMessage(text: text)))
        return true
    }

    var heldCount: Int { state.withLockedValue { $0.waiting.count } }
    /// The texts of the calls whose work the connection stopped (deadline, cancel, shutdown).
    var stopped: [String] { state.withLockedValue { $0.stopped } }
}
