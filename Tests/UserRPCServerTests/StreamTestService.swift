import NIOConcurrencyHelpers
import StrictJSON
import UserRPCServer
import UserRPCWire

/// `test.v1.Streams`: `Count` streams the messages "0", "1", … up to the request's number, then
/// ends OK; `Endless` streams until its call ends, counting the writes that went through; `Echo`
/// is a unary call beside them.
struct StreamTestService: RPCService {
    static let schemaText = #"""
        {"package":"test.v1","service":"Streams","methods":[
          {"name":"Count","full_name":"test.v1.Streams/Count","request":"Text","response":"Text","streaming":"server"},
          {"name":"Endless","full_name":"test.v1.Streams/Endless","request":"Text","response":"Text","streaming":"server"},
          {"name":"Echo","full_name":"test.v1.Streams/Echo","request":"Text","response":"Text"}],
         "messages":{"Text":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}}}
        """#
    static let count = ServerStreamingMethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Streams", name: "Count")
    static let endless = ServerStreamingMethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Streams", name: "Endless")
    static let echo = MethodDescriptor<TextMessage, TextMessage>(service: "test.v1.Streams", name: "Echo")

    /// What `Endless` did: writes that went through, and how its last write ended.
    final class Progress: Sendable {
        private struct State {
            var written = 0
            var ended: RPCError?
            var waiter: CheckedContinuation<Void, Never>?
        }
        private let state = NIOLockedValueBox(State())

        var written: Int { state.withLockedValue { $0.written } }
        var ended: RPCError? { state.withLockedValue { $0.ended } }

        func wrote() { change { $0.written += 1 } }
        func end(_ error: RPCError) { change { $0.ended = error } }

        private func change(_ body: (inout State) -> Void) {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                body(&state)
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        /// Waits until `condition` holds (the suite's time limit bounds it).
        func wait(until condition: @escaping @Sendable (Int, RPCError?) -> Bool) async {
            while true {
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    let holds = state.withLockedValue { state -> Bool in
                        if condition(state.written, state.ended) { return true }
                        state.waiter = waiter
                        return false
                    }
                    if holds { waiter.resume() }
                }
                if state.withLockedValue({ condition($0.written, $0.ended) }) { return }
            }
        }
    }

    let progress = Progress()

    var schema: ServiceSchema { ServiceSchema(embedded: Self.schemaText) }

    func registerMethods(with router: inout RPCRouter) {
        router.registerServerStreaming(Self.count) { request, _, writer throws(RPCError) in
            for index in 0..<(Int(request.text) ?? 0) { try await writer.write(TextMessage(text: "\(index)")) }
        }
        let progress = self.progress
        router.registerServerStreaming(Self.endless) { _, _, writer throws(RPCError) in
            var index = 0
            while true {
                do throws(RPCError) {
                    try await writer.write(TextMessage(text: "\(index)"))
                } catch {
                    progress.end(error)
                    throw error
                }
                progress.wrote()
                // Where a client would resume: after the message just written.
                writer.setResumeDetails(JSONObject(["resume_after": .string("\(index)")]))
                index += 1
            }
        }
        router.register(Self.echo) { request, _ in .ok(request) }
    }
}
