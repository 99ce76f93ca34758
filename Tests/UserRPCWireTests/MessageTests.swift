import Foundation
import NIOCore
import SeededMutation
import StrictJSON
import Testing
import UserRPCWire

/// A message with a field of each kind the readers and the writer handle.
struct SampleMessage: RPCMessage, Hashable {
    static let messageName = "SampleMessage"
    var id: UUID
    var name: String
    var count: Int?
    var at: Date?
    var big: UInt64?

    init(id: UUID, name: String, count: Int? = nil, at: Date? = nil, big: UInt64? = nil) {
        self.id = id
        self.name = name
        self.count = count
        self.at = at
        self.big = big
    }

    init(fields: inout some MessageFieldReader) {
        id = fields.required("id", as: UUID.self)
        name = fields.required("name", as: String.self)
        count = fields.optional("count", as: Int.self)
        at = fields.optional("at", as: Date.self)
        big = fields.optional("big", as: UInt64.self)
    }

    func write(fields: inout MessageFieldWriter) {
        fields.field("id", id)
        fields.field("name", name)
        fields.field("count", count)
        fields.field("at", at)
        fields.field("big", big)
    }

    static func make(seed: UInt64) -> SampleMessage {
        var generator = SeededGenerator(seed: seed)
        let pieces = ["a", "Z", "é", "\"", "\\", "\n", "\u{1}", "😀", " ", "/", "x_y"]
        let name = (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
        let millis = Int64.random(in: 0...4_000_000_000_000, using: &generator)
        return SampleMessage(
            id: UUID(uuid: (0x01, 0x96, 0, 0, 0, 0, 0x70, UInt8(seed & 0xFF), 0x80, 0, 0, 0, 0, 0, 0, UInt8(seed >> 8 & 0xFF))), name: name,
            count: Bool.random(using: &generator) ? Int.random(in: -1_000_000...1_000_000, using: &generator) : nil,
            at: Bool.random(using: &generator) ? Date(timeIntervalSince1970: Double(millis) / 1000) : nil,
            big: Bool.random(using: &generator) ? UInt64.random(in: 0...UInt64.max, using: &generator) : nil)
    }
}

@Suite("Messages: one description, every reader and the writer")
struct MessageTests {
    @Test("a message written and read back is the same message, whatever its strings hold")
    func roundTrip() throws {
        for seed: UInt64 in 0..<2_000 {
            let message = SampleMessage.make(seed: seed)
            let object = try #require(try JSONParser().parse(message.jsonBytes).objectValue)
            #expect(try SampleMessage.decode(json: object, unknownFields: .reject) == message)
        }
    }

    @Test("the writer writes each key once, in field order, and leaves absent optionals out")
    func writtenShape() {
        let id = UUID(uuidString: "0196B6A4-5B7E-7C1D-9A10-3F1C2D4E5F60")!
        let message = SampleMessage(id: id, name: "q\"", count: -3, at: Date(timeIntervalSince1970: 1_795_000_000.123))
        #expect(
            String(decoding: message.jsonBytes, as: UTF8.self)
                == #"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","name":"q\"","count":-3,"at":"2026-11-18T11:06:40.123Z"}"#)
    }

    @Test("strict reading names every problem, unknown fields first; tolerant reading skips unknown fields")
    func unknownFieldPolicy() throws {
        let object = try #require(
            try JSONParser().parse(#"{"zz":1,"id":"nope","count":"7","name":"n","extra":{"a":[1]}}"#).objectValue)
        #expect(throws: MessageDecodingError.self) { try SampleMessage.decode(json: object, unknownFields: .reject) }
        do {
            _ = try SampleMessage.decode(json: object, unknownFields: .reject)
        } catch {
            #expect(error.violations.map(\.field) == ["zz", "extra", "id", "count"])
            #expect(error.violations[0].description == "unknown field")
            #expect(error.violations[2].description == "must be a UUID (8-4-4-4-12 hex digits)")
            #expect(error.violations[3].description == "must be an integer, not string")
        }
        let newer = try #require(
            try JSONParser().parse(#"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","name":"n","added":{"x":[true]},"also":2}"#).objectValue)
        let tolerant = try SampleMessage.decode(json: newer, unknownFields: .ignore)
        #expect(tolerant.name == "n")
        #expect(throws: MessageDecodingError.self) { try SampleMessage.decode(json: newer, unknownFields: .reject) }
    }

    @Test("on 30,000 generated payloads, what the plain reader reads, the JSON reader reads the same way")
    func plainReaderDifferential() throws {
        var generator = SeededGenerator(seed: 77)
        let seeds = [
            #"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","name":"ada","count":12,"big":18446744073709551615}"#,
            #"{"name":"x","id":"0196B6A4-5B7E-7C1D-9A10-3F1C2D4E5F60","at":"2026-11-18T11:06:40.123Z"}"#,
            #"{"id":"0196b6a4-5b7e-7c1d-9a10-3f1c2d4e5f60","name":"","unknown":"u"}"#,
        ].map { Array($0.utf8) }
        var read = (plain: 0, declined: 0)
        for round in 0..<30_000 {
            let seed = seeds[round % seeds.count]
            let payload = round % 10 == 0 ? seed : ByteMutation.mutate(seed, using: &generator)
            let shown = String(decoding: payload, as: UTF8.self)
            for policy in [UnknownFieldPolicy.reject, .ignore] {
                let plain: SampleMessage? = payload.withUnsafeBytes { bytes in
                    guard let members = ResponseFrameScanner.scanFlatPayload(bytes) else { return nil }
                    return SampleMessage.decode(plain: members, in: bytes, unknownFields: policy)
                }
                guard let plain else {
                    read.declined += 1
                    continue
                }
                read.plain += 1
                guard case .object(let object)? = try? JSONParser().parse(payload) else {
                    Issue.record("plain reader read \(shown), the parser rejects it")
                    continue
                }
                #expect(try SampleMessage.decode(json: object, unknownFields: policy) == plain, "\(shown)")
            }
        }
        #expect(read.plain > 3_000 && read.declined > 3_000)
    }

    @Test("RFC 3339: what the writer writes reads back to the same millisecond; other spellings read too")
    func timestamps() throws {
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<5_000 {
            let millis = Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator)  // 1900-2100
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = RFC3339.format(date)
            let parsed = try #require(RFC3339.parse(text), "\(text)")
            #expect(RFC3339.format(parsed) == text)
        }
        let reference = try #require(RFC3339.parse("2026-11-18T11:06:40.123Z"))
        #expect(RFC3339.parse("2026-11-18T12:06:40.123+01:00") == reference)
        #expect(RFC3339.parse("2026-11-18t11:06:40.123456z") == reference)
        #expect(RFC3339.parse("2026-11-18T11:06:40Z").map(RFC3339.format) == "2026-11-18T11:06:40.000Z")
        for bad in ["2026-11-18", "2026-13-01T00:00:00Z", "2026-11-18T11:06:40.Z", "2026-11-18T11:06:40.123", "x", ""] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("the request scanner reads flat string metadata, and declines metadata that is not")
    func scannedMetadata() throws {
        let frame = #"{"type":"request","id":5,"method":"a.v1.S/M","metadata":{"authorization":"Bearer t","x-request-id":"r1"},"payload":{}}"#
        let scanned = try #require(Array(frame.utf8).withUnsafeBytes { RequestFrameScanner.scan($0) })
        #expect(scanned.metadata.count == 2)
        for declined in [
            #"{"type":"request","id":5,"method":"a.v1.S/M","metadata":{"n":1}}"#,
            #"{"type":"request","id":5,"method":"a.v1.S/M","metadata":{"k":"v"},"metadata":{"k":"v"}}"#,
        ] {
            #expect(Array(declined.utf8).withUnsafeBytes { RequestFrameScanner.scan($0) } == nil, "\(declined)")
        }
    }
}
