import NIOCore
import SeededMutation
import StrictJSON
import Testing
import UserRPCWire

/// The client's side of the wire: the request frame encoder, and the payload scanner it reads
/// `User` answers with.
@Suite("Client codec")
struct ClientCodecTests {
    @Test(
        "request frames decode to the call they were written for: method, deadline, metadata and payload",
        arguments: [
            ("user.v1.UserService/GetUser", UInt64?.none, [String: String](), #"{"id":"abc"}"#),
            ("user.v1.UserService/RegisterUser", 250, ["authorization": "Bearer t", "x-trace": "q\"\\\n"], #"{"username":"é","email":"a@b"}"#),
            ("we\"ird/Méthod\u{1}", 0, ["b": "2", "a": "1"], #"{}"#),
            ("m", UInt64.max, [:], #" { "nested" : [1, {"x": null}] } "#),
        ])
    func encoderRoundTrip(method: String, timeout: UInt64?, metadata: [String: String], payload: String) throws {
        let encoder = RequestFrameEncoder(method: method, timeoutMilliseconds: timeout, metadata: metadata)
        for id: UInt64 in [0, 9, 10, 4_294_967_296, UInt64.max] {
            var buffer = ByteBuffer()
            Array(payload.utf8).withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &buffer) }
            let length = buffer.readInteger(as: UInt32.self)
            #expect(length.map(Int.init) == buffer.readableBytes)
            let decoded = buffer.withUnsafeReadableBytes { bytes in Result { () throws(ClientFrameError) in try ClientFrame.decode(bytes) } }
            guard case .success(.request(let request)) = decoded else {
                Issue.record("not a request: \(decoded)")
                continue
            }
            #expect(request.id == id)
            #expect(request.method == method)
            #expect(request.timeoutMilliseconds == timeout)
            #expect(request.metadata == metadata)
            guard case .object(let expected) = try JSONParser().parse(Array(payload.utf8)) else {
                Issue.record("bad test payload")
                continue
            }
            #expect(request.payload == expected)
            // The frame body is also what RequestEnvelope writes.
            var writer = JSONWriter()
            RequestEnvelope.encode(
                id: id, method: method, timeoutMilliseconds: timeout, metadata: metadata, payload: Array(payload.utf8), into: &writer)
            #expect(writer.bytes == Array(buffer.readableBytesView))
        }
    }

    @Test("a message written in place is the same frame as its encoded bytes given as a payload")
    func messageInPlace() {
        let encoder = RequestFrameEncoder(method: "test.v1.Test/Echo", timeoutMilliseconds: 30_000, metadata: ["k": "v"])
        var viaBytes = ByteBuffer()
        var inPlace = ByteBuffer()
        for id: UInt64 in [1, 2, 3, .max] {
            let message = SampleMessage.make(seed: id)
            message.jsonBytes.withUnsafeBytes { encoder.writeFrame(id: id, payload: $0, into: &viaBytes) }
            encoder.writeFrame(id: id, message: message, into: &inPlace)
        }
        #expect(viaBytes == inPlace)
    }

    private func scanFlat(_ bytes: [UInt8]) -> ScannedPayload? {
        bytes.withUnsafeBytes { ResponseFrameScanner.scanFlatPayload($0) }
    }

    @Test("flat payloads: what the scanner reads, the JSON parser reads the same way; it declines the rest")
    func flatPayloadDifferential() throws {
        var generator = SeededGenerator(seed: 29)
        let seeds = [
            #"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","username":"ada_lovelace","email":"ada@example.com","created_at":"2026-11-27T10:15:00.123Z"}"#,
            #" { "a" : "" , "b" : 0 , "c" : 18446744073709551615 } "#,
            #"{}"#,
        ].map { Array($0.utf8) }
        var accepted = 0
        for round in 0..<20_000 {
            let seed = seeds[round % seeds.count]
            let payload = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            let shown = String(decoding: payload, as: UTF8.self)
            let parsed = try? JSONParser().parse(payload)
            guard let scanned = scanFlat(payload) else { continue }
            accepted += 1
            guard case .object(let object)? = parsed else {
                Issue.record("scanner read \(shown), the parser rejects it")
                continue
            }
            #expect(object.members.count == scanned.count, "\(shown)")
            for index in 0..<scanned.count {
                let member = scanned[index]
                let key = String(decoding: payload[member.key], as: UTF8.self)
                let value = String(decoding: payload[member.value], as: UTF8.self)
                #expect(object[key] == (member.isString ? .string(value) : .number(value)), "\(shown): \(key)")
            }
        }
        #expect(accepted > 1_000)
    }

    @Test("a plain string holds printable ASCII only: every special byte, at every position, is declined")
    func plainStringBytes() {
        // The scanner reads strings eight bytes at a time; put each special byte at each offset of
        // strings long enough to span several words.
        for special: UInt8 in [0x00, 0x1F, 0x22, 0x5C, 0x80, 0xC3, 0xFF] {
            for length in 1...20 {
                for position in 0..<length {
                    var value = Array(repeating: UInt8(ascii: "a"), count: length)
                    value[position] = special
                    let payload = Array(#"{"k":""#.utf8) + value + Array(#""}"#.utf8)
                    // (A quote ends the string early, and what follows is not an object.)
                    #expect(scanFlat(payload) == nil, "byte \(special) at \(position) of \(length)")
                }
            }
        }
        for length in 0...40 {
            // Printable ASCII of every kind but the quote and the backslash.
            let value: [UInt8] = (0..<length).map { index in
                let byte = UInt8(0x20 + (index * 7) % 0x5F)
                return byte == 0x22 || byte == 0x5C ? UInt8(ascii: "x") : byte
            }
            let payload = Array(#"{"k":""#.utf8) + value + Array(#""}"#.utf8)
            let scanned = scanFlat(payload)
            #expect(scanned?.count == 1, "length \(length)")
            if let scanned { #expect(Array(payload[scanned[0].value]) == value) }
        }
    }
}
