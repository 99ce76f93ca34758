import StrictJSON
import Testing
import UserRPCWire

@Suite("Envelope decoding")
struct ClientFrameTests {
    private func decode(_ text: String) -> Result<ClientFrame, ClientFrameError> {
        Array(text.utf8).withUnsafeBytes { bytes in
            Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes) }
        }
    }

    @Test("reads a full request")
    func request() throws {
        let frame = try decode(
            #"{"type":"request","id":18446744073709551615,"method":"user.v1.UserService/GetUser","timeout_ms":250,"metadata":{"k":"v"},"payload":{"id":"x"}}"#
        ).get()
        #expect(
            frame
                == .request(
                    RequestEnvelope(
                        id: .max, method: "user.v1.UserService/GetUser", timeoutMilliseconds: 250, metadata: ["k": "v"],
                        payload: JSONObject(["id": "x"]))))
    }

    @Test("reads ping and cancel")
    func control() throws {
        #expect(try decode(#"{"type":"ping","id":7}"#).get() == .ping(id: 7))
        #expect(try decode(#"{"id":0,"type":"cancel"}"#).get() == .cancel(id: 0))
    }

    @Test(
        "closes the connection when no call id can be known",
        arguments: [
            "[1]", "not json", "\"s\"", #"{"type":"request","method":"m"}"#, #"{"type":"request","id":-1}"#,
            #"{"type":"request","id":18446744073709551616}"#, #"{"type":"request","id":"1"}"#, #"{"type":"request","id":1.5}"#,
            #"{"id":1,"id":2}"#, #"{"id":1,"id":1,"type":"ping"}"#,
            // Parser rules broken, but no usable id: not at the top level, twice, or not JSON at all.
            #"{"type":"request","payload":{"id":5,"a":1,"a":2}}"#, #"{"type":"request","id":5,"payload":{"a":1,"a":2}"#,
            #"{"type":"request","id":-5,"payload":{"a":1,"a":2}}"#, #"{"type":"request","id":05,"payload":{"a":1,"a":2}}"#,
            #"{"type":"request","id":5,"payload":{"a":1,"a":2}} x"#, #"{"type":"request","id":5,"payload":{"a":1,"a":"\x"}}"#,
        ])
    func fatal(text: String) {
        guard case .failure(.fatal) = decode(text) else {
            Issue.record("expected a fatal error for \(text)")
            return
        }
    }

    @Test(
        "answers INVALID_ARGUMENT when the id is known",
        arguments: [
            (#"{"id":3}"#, "type"), (#"{"id":3,"type":5}"#, "type"), (#"{"id":3,"type":"bogus"}"#, "type"),
            (#"{"id":3,"type":"request"}"#, "method"), (#"{"id":3,"type":"request","method":1}"#, "method"),
            (#"{"id":3,"type":"request","method":"m","timeout_ms":-5}"#, "timeout_ms"),
            (#"{"id":3,"type":"request","method":"m","timeout_ms":"5"}"#, "timeout_ms"),
            (#"{"id":3,"type":"request","method":"m","metadata":[]}"#, "metadata"),
            (#"{"id":3,"type":"request","method":"m","metadata":{"a":1}}"#, "metadata.a"),
            (#"{"id":3,"type":"request","method":"m","payload":[]}"#, "payload"),
            (#"{"id":3,"type":"request","method":"m","extra":true}"#, "extra"),
        ])
    func rejected(text: String, field: String) {
        guard case .failure(.reject(let id, let status)) = decode(text) else {
            Issue.record("expected a rejection for \(text)")
            return
        }
        #expect(id == 3)
        #expect(status.code == .invalidArgument)
        guard case .array(let violations)? = status.details?["field_violations"] else {
            Issue.record("no field_violations")
            return
        }
        #expect(violations.first?.objectValue?["field"] == .string(field))
    }

    @Test("a response carries a payload only when OK")
    func responsePayload() throws {
        var writer = JSONWriter()
        ServerFrame.encodeResponse(id: 1, status: .ok, payload: Array("{\"a\":1}".utf8), into: &writer)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"type":"response","id":1,"status":{"code":"OK","message":""},"payload":{"a":1}}"#)
        writer.reset()
        ServerFrame.encodeResponse(id: 2, status: RPCStatus(code: .notFound, message: "no"), payload: Array("{}".utf8), into: &writer)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"type":"response","id":2,"status":{"code":"NOT_FOUND","message":"no"}}"#)
        let decoded = try writer.bytes.withUnsafeBytes { try ServerFrame.decode($0) }
        #expect(decoded == .response(ResponseEnvelope(id: 2, status: RPCStatus(code: .notFound, message: "no"))))
    }

    @Test("request envelopes round-trip through encode and decode")
    func roundTrip() throws {
        let envelope = RequestEnvelope(id: 42, method: "a/b", timeoutMilliseconds: 9, metadata: ["x": "y"], payload: JSONObject(["n": 1]))
        var writer = JSONWriter()
        envelope.encode(into: &writer)
        let decoded = try decode(String(decoding: writer.bytes, as: UTF8.self)).get()
        #expect(decoded == .request(envelope))
    }

    @Test(
        "grammatical JSON that breaks a parser rule costs only its call when the id is usable: duplicate keys, depth, long numbers",
        arguments: [
            #"{"type":"request","id":7,"method":"m","payload":{"limit":5,"limit":6}}"#,
            #"{"type":"request","type":"request","id":7,"method":"m"}"#,
            #"{"type":"request","\u0069d":7,"method":"m","payload":{"a":1,"a":2}}"#,
            #"{"type":"request","id":7,"method":"m","payload":{"deep":"# + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
                + "}}",
            #"{"type":"request","id":7,"method":"m","payload":{"n":"# + String(repeating: "9", count: 500) + "}}",
            #"{"type":"request","id":7,"method":"m","payload":{"n":-1.5e"# + String(repeating: "9", count: 100)
                + ", \t\"s\":\"\\u00e9\\n\",\"s\":[true,false,null,{}]}}",
        ])
    func ruleBrokenButIDUsable(text: String) {
        guard case .failure(.reject(let id, let status)) = decode(text) else {
            Issue.record("expected INVALID_ARGUMENT for call 7: \(text.prefix(120))")
            return
        }
        #expect(id == 7)
        #expect(status.code == .invalidArgument)
        #expect(status.message.hasPrefix("the frame is refused: "), "\(status.message)")
    }

    @Test(
        "a ping or cancel that breaks a parser rule is dropped, never answered with a response",
        arguments: [
            #"{"type":"ping","id":7,"x":1,"x":2}"#, #"{"type":"cancel","id":7,"x":1,"x":2}"#,
            #"{"type":"ping","id":7,"x":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}",
        ])
    func pingOrCancelDropped(text: String) {
        guard case .failure(.ignore) = decode(text) else {
            Issue.record("expected the frame to be dropped: \(text)")
            return
        }
    }
}
