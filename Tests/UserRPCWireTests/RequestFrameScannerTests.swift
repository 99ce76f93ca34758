import Foundation
import NIOCore
import SeededMutation
import StrictJSON
import Testing
import UserRPCWire

/// The hot path's scanner must read exactly what the general decoder reads, and decline the rest.
@Suite("Request frame scanner")
struct RequestFrameScannerTests {
    private func scan(_ text: String) -> ScannedRequest? {
        Array(text.utf8).withUnsafeBytes { RequestFrameScanner.scan($0) }
    }

    private func text(_ range: Range<Int>, of frame: String) -> String {
        String(decoding: Array(frame.utf8)[range], as: UTF8.self)
    }

    @Test("a scanned request reused for the next frame holds that frame's members only")
    func reuseForgetsThePreviousFrame() throws {
        let first = #"{"type":"request","id":1,"method":"m","metadata":{"a":"1","b":"2"},"payload":{"x":"1","y":2,"z":"3"}}"#
        let second = #"{"type":"request","id":2,"method":"n","payload":{"w":"4"}}"#
        var reused = ScannedRequest()
        #expect(Array(first.utf8).withUnsafeBytes { RequestFrameScanner.scan($0, into: &reused) })
        #expect(reused.payload.count == 3 && reused.metadata.count == 2)
        #expect(Array(second.utf8).withUnsafeBytes { RequestFrameScanner.scan($0, into: &reused) })
        #expect(reused == scan(second))
        #expect(reused.payload.count == 1 && reused.metadata.count == 0 && reused.id == 2)
        #expect(!Array("{}".utf8).withUnsafeBytes { RequestFrameScanner.scan($0, into: &reused) })
    }

    @Test("reads id, method, timeout and a flat payload in any key order and spacing")
    func readsCommonShape() throws {
        let frame =
            #" { "payload" : { "id" : "abc" , "limit" : 20 } , "timeout_ms":250,"method":"user.v1.UserService/GetUser","id":18446744073709551615,"type":"request" } "#
        let scanned = try #require(scan(frame))
        #expect(scanned.id == UInt64.max)
        #expect(text(scanned.method, of: frame) == "user.v1.UserService/GetUser")
        #expect(scanned.timeoutMilliseconds == 250)
        #expect(scanned.payload.count == 2)
        #expect(text(scanned.payload[0].key, of: frame) == "id")
        #expect(text(scanned.payload[0].value, of: frame) == "abc" && scanned.payload[0].isString)
        #expect(text(scanned.payload[1].value, of: frame) == "20" && !scanned.payload[1].isString)
        let bare = try #require(scan(#"{"type":"request","id":0,"method":"m"}"#))
        #expect(bare.id == 0 && bare.payload.count == 0 && bare.timeoutMilliseconds == nil)
    }

    @Test(
        "declines every frame outside the plain shape, leaving it to the general decoder",
        arguments: [
            #"{"type":"request","id":1,"method":"m","metadata":{"authorization":1}}"#,  // metadata that is not a string
            #"{"type":"request","id":1,"method":"m\u0041"}"#,  // escape in a value
            #"{"type":"request","\u0069d":1,"method":"m"}"#,  // escape in a key
            #"{"type":"request","id":1,"method":"é"}"#,  // non-ASCII
            #"{"type":"request","id":1,"id":2,"method":"m"}"#,  // duplicate key
            #"{"type":"request","id":1,"method":"m","payload":{"a":"b","a":"c"}}"#,  // duplicate payload key
            #"{"type":"request","id":1,"method":"m","payload":{"a":{"b":1}}}"#,  // nested payload value
            #"{"type":"request","id":1,"method":"m","payload":{"a":true}}"#,
            #"{"type":"request","id":1,"method":"m","payload":{"a":-1}}"#,
            #"{"type":"request","id":1,"method":"m","payload":{"a":1.5}}"#,
            // More than eight members.
            #"{"type":"request","id":1,"method":"m","payload":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9"}}"#,
            #"{"type":"request","id":1,"method":"m","payload":[]}"#,
            #"{"type":"request","id":01,"method":"m"}"#,  // leading zero
            #"{"type":"request","id":1e3,"method":"m"}"#,
            #"{"type":"request","id":-1,"method":"m"}"#,
            #"{"type":"request","id":18446744073709551616,"method":"m"}"#,  // overflow
            #"{"type":"request","id":1,"method":"m","timeout_ms":null}"#,
            #"{"type":"ping","id":1}"#,
            #"{"type":"request","method":"m"}"#,  // no id
            #"{"type":"request","id":1}"#,  // no method
            #"{"id":1,"method":"m"}"#,  // no type
            #"{"type":"request","id":1,"method":"m","extra":1}"#,
            #"{"type":"request","id":1,"method":"m"} x"#,  // trailing bytes
            #"{"type":"request","id":1,"method":"m",}"#,
            #"{"type":"request","id":1,"method":"m""#,
            "{\"type\":\"request\",\"id\":1,\"method\":\"a\u{1}b\"}",  // control character
            "",
            "{}",
        ])
    func declines(frame: String) {
        #expect(scan(frame) == nil)
    }

    @Test("on 30,000 generated frames, whatever the scanner reads the general decoder and Foundation read the same way")
    func differential() throws {
        var generator = SeededGenerator(seed: 99)
        let seeds = [
            #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","payload":{"id":"01a21b12-9b43-75d8-9f54-8e0fb98dfbe1"}}"#,
            #"{"type":"request","id":42,"method":"user.v1.UserService/SearchUsers","timeout_ms":900,"payload":{"username":"ab","limit":5}}"#,
            #"{ "method" : "x" , "type" : "request" , "id" : 10 , "payload" : { } }"#,
        ]
        var accepted = 0
        for round in 0..<30_000 {
            let seed = Array(seeds[round % seeds.count].utf8)
            let frame = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            guard let scanned = frame.withUnsafeBytes({ RequestFrameScanner.scan($0) }) else { continue }
            accepted += 1
            let shown = String(decoding: frame, as: UTF8.self)
            // The general decoder: a request with the same fields.
            let decoded = frame.withUnsafeBytes { bytes in Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes) } }
            guard case .success(.request(let request)) = decoded else {
                Issue.record("scanner read \(shown) but the decoder gave \(decoded)")
                continue
            }
            #expect(request.id == scanned.id, "\(shown)")
            #expect(Array(request.method.utf8) == Array(frame[scanned.method]), "\(shown)")
            #expect(request.timeoutMilliseconds == scanned.timeoutMilliseconds, "\(shown)")
            #expect(request.metadata.isEmpty)
            #expect(request.payload.members.count == scanned.payload.count, "\(shown)")
            for index in 0..<scanned.payload.count {
                let member = scanned.payload[index]
                let key = String(decoding: frame[member.key], as: UTF8.self)
                let value = String(decoding: frame[member.value], as: UTF8.self)
                #expect(request.payload[key] == (member.isString ? .string(value) : .number(value)), "\(shown)")
            }
            // Foundation's parser: the same document.
            let foundation = try #require(
                try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any], "Foundation rejected \(shown)")
            #expect(foundation["type"] as? String == "request")
            #expect(foundation["method"] as? String == request.method)
            if scanned.id < 1 << 53 { #expect((foundation["id"] as? NSNumber)?.uint64Value == scanned.id, "\(shown)") }
            #expect((foundation["payload"] as? [String: Any])?.count ?? 0 == scanned.payload.count)
        }
        // Mutations keep a share of frames in the plain shape, so the comparison has substance.
        #expect(accepted > 3_000)
    }
}

@Suite("Response frame writer")
struct ResponseFrameWriterTests {
    @Test("writes the general encoder's bytes: envelope, ids, and strings that need escaping")
    func sameBytesAsGeneralEncoder() throws {
        var generator = SeededGenerator(seed: 5)
        let pieces = ["a", "é", "\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1F}", "\u{7F}", "😀", " ", "/"]
        for round in 0..<2_000 {
            let text = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            let id = round % 3 == 0 ? UInt64.max - UInt64(round) : UInt64.random(in: 0...1_000_000, using: &generator)
            let expected = Self.generalFrame(id: id, text: text)
            // The one writer, with the message's own encoder.
            var written = ByteBuffer()
            ResponseFrameWriter.writeOK(id: id, metadata: [:], message: TextMessage(text: text), into: &written)
            #expect(written == expected, "\(text.debugDescription)")
        }
    }
}

extension ResponseFrameWriterTests {
    /// The OK response frame for a `TextMessage` the general way: the payload through `JSONWriter`,
    /// the envelope through `ServerFrame`.
    static func generalFrame(id: UInt64, text: String) -> ByteBuffer {
        var payloadWriter = JSONWriter()
        payloadWriter.beginObject()
        payloadWriter.key("text")
        payloadWriter.string(text)
        payloadWriter.endObject()
        var envelope = JSONWriter()
        ServerFrame.encodeResponse(id: id, status: .ok, payload: payloadWriter.bytes, into: &envelope)
        var frame = ByteBuffer()
        WireProtocol.writeFrame(envelope.bytes, into: &frame)
        return frame
    }

    @Test("a message too large for the single writing pass is measured and written again, with the same bytes")
    func largeMessagesTakeTheTwoPassPath() throws {
        // Around the 1 KiB of room the single pass has, escapes included (each `\u0001` is 6 bytes).
        for (count, piece) in [(200, "a"), (1_000, "a"), (1_020, "b"), (1_100, "c"), (170, "\u{1}"), (200, "\u{1}"), (40_000, "é")] {
            let text = String(repeating: piece, count: count)
            let expected = Self.generalFrame(id: 9, text: text)
            var written = ByteBuffer(bytes: [1, 2, 3])  // something before it stays as it is
            ResponseFrameWriter.writeOK(id: 9, metadata: [:], message: TextMessage(text: text), into: &written)
            #expect(written.readBytes(length: 3) == [1, 2, 3])
            #expect(written == expected, "\(count) × \(piece.debugDescription)")
        }
    }

    @Test(
        "request ids: generated ones are prefix-sequence in base 36, at most 15 bytes, written as their text; a given one escaped where JSON needs it"
    )
    func requestIDs() throws {
        #expect(RequestID(prefix: 0, sequence: 1).text == "000000-1")
        #expect(RequestID(prefix: 35, sequence: 36).text == "00000z-10")
        let largest = RequestID(prefix: RequestID.prefixLimit - 1, sequence: RequestID.sequenceLimit - 1).text
        #expect(largest == "zzzzzz-zzzzzzzz")
        #expect(largest.utf8.count == 15)
        #expect(RequestID(prefix: 7, sequence: RequestID.sequenceLimit).text == "000007-0", "the sequence wraps")
        for (requestID, expectedText) in [
            (RequestID(prefix: 36 * 36, sequence: 1_295), "000100-zz"), (RequestID(given: "abc-1"), "abc-1"),
            (RequestID(given: #"q"u\o"#), #"q"u\o"#),
        ] {
            var written = ByteBuffer()
            ResponseFrameWriter.writeOK(id: 1, requestID: requestID, metadata: [:], message: TextMessage(text: "x"), into: &written)
            _ = written.readInteger(as: UInt32.self)
            let object = try JSONParser().parse(Array(written.readableBytesView)).objectValue
            #expect(object?["metadata"]?.objectValue?["x-request-id"] == .string(expectedText))
            #expect(object?["payload"]?.objectValue?["text"] == .string("x"))
        }
    }
}

@Suite("Response frame scanner")
struct ResponseFrameScannerTests {
    @Test("on 20,000 generated response frames, what the scanner reads the general decoder reads the same way")
    func differential() throws {
        var generator = SeededGenerator(seed: 11)
        var seeds: [[UInt8]] = []
        for id: UInt64 in [0, 7, UInt64.max] {
            var writer = JSONWriter()
            ServerFrame.encodeResponse(
                id: id, status: .ok, payload: Array(#"{"id":"01a2","username":"ada","email":"a\"b@example.com","n":[1,{"x":null}]}"#.utf8),
                into: &writer)
            seeds.append(writer.bytes)
        }
        seeds.append(Array(#" { "type" : "response" , "id" : 3 , "status" : { "code" : "OK" , "message" : "fine" } , "payload" : { } } "#.utf8))
        // The compact shape the scanner compares whole, with a message and with a User payload.
        seeds.append(Array(#"{"type":"response","id":12,"status":{"code":"OK","message":"fine"},"payload":{"a":"b"}}"#.utf8))
        seeds.append(
            Array(
                #"{"type":"response","id":5,"status":{"code":"OK","message":""},"payload":{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","username":"ada","email":"ada@example.com","created_at":"2026-11-27T10:15:00.123Z"}}"#
                    .utf8))
        seeds.append(Array(#"{"type":"response","id":3,"status":{"code":"NOT_FOUND","message":"no"}}"#.utf8))
        var accepted = 0
        for round in 0..<20_000 {
            let seed = seeds[round % seeds.count]
            let frame = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            guard let scanned = frame.withUnsafeBytes({ ResponseFrameScanner.scanOK($0) }) else { continue }
            guard case .object(let payload)? = try? JSONParser().parse(Array(frame[scanned.payload])) else { continue }
            accepted += 1
            let shown = String(decoding: frame, as: UTF8.self)
            let decoded = frame.withUnsafeBytes { bytes in Result { () throws(ServerFrameError) in try ServerFrame.decode(bytes) } }
            guard case .success(.response(let response)) = decoded else {
                Issue.record("scanner read \(shown) but the decoder gave \(decoded)")
                continue
            }
            #expect(response.id == scanned.id, "\(shown)")
            #expect(response.status == RPCStatus(code: .ok, message: String(decoding: frame[scanned.message], as: UTF8.self)), "\(shown)")
            #expect(response.payload == payload, "\(shown)")
        }
        #expect(accepted > 1_000)
        // Not OK, or not in the server's shape: left to the general decoder.
        for frame in [
            #"{"type":"response","id":3,"status":{"code":"NOT_FOUND","message":"no"}}"#,
            #"{"id":3,"type":"response","status":{"code":"OK","message":""},"payload":{}}"#,
            #"{"type":"response","id":3,"status":{"code":"OK","message":"","details":{}},"payload":{}}"#,
            #"{"type":"pong","id":3}"#,
        ] {
            #expect(Array(frame.utf8).withUnsafeBytes { ResponseFrameScanner.scanOK($0) } == nil, "\(frame)")
        }
    }
}

/// `{"text": …}`.
private struct TextMessage: RPCMessage {
    static let messageName = "TextMessage"
    var text: String
    init(text: String) { self.text = text }
    init(fields: inout some MessageFieldReader) { text = fields.required("text", as: String.self) }
    func write(fields: inout MessageFieldWriter) { fields.field("text", text) }
}
