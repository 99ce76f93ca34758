import Foundation
import SeededMutation
import StrictJSON
import Testing

@Suite("Strict JSON parser")
struct JSONParserTests {
    let parser = JSONParser()

    @Test("parses every JSON type and keeps member order")
    func parsesDocuments() throws {
        let value = try parser.parse(#" {"b": [1, -2.5e3, true, false, null], "a": "x\u00e9\n\ud83d\ude00", "c": {}} "#)
        guard case .object(let object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == ["b", "a", "c"])
        #expect(object["b"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(object["a"] == .string("xé\n😀"))
        #expect(object["c"] == .object(JSONObject()))
    }

    @Test("round-trips the full unsigned 64-bit range exactly")
    func uint64RoundTrip() throws {
        for id: UInt64 in [0, 1, 9_007_199_254_740_993, UInt64.max - 1, UInt64.max] {
            let value = try parser.parse("{\"id\":\(id)}")
            #expect(value.objectValue?["id"]?.uint64Value == id)
            #expect(value.jsonText == "{\"id\":\(id)}")
        }
        #expect(try parser.parse("18446744073709551616").uint64Value == nil)
        #expect(try parser.parse("-1").uint64Value == nil)
        #expect(try parser.parse("1.0").uint64Value == nil)
        #expect(try parser.parse("1e3").uint64Value == nil)
        // Signed integers: `-0` is not one (PROTOCOL.md section 2), `-1` and the extremes are.
        #expect(try parser.parse("-0").intValue == nil && parser.parse("-0").uint64Value == nil)
        #expect(try parser.parse("-1").intValue == -1 && parser.parse("-9223372036854775808").intValue == Int.min)
    }

    /// `{"<first>":1,"k0":1,…,"k<n-1>":1,"<then>":2}` (without `first` when it is empty).
    static func object(first: String = "", keys: Int, then last: String) -> String {
        var text = first.isEmpty ? "{" : "{\"\(first)\":1,"
        for n in 0..<keys { text += "\"k\(n)\":1," }
        return text + "\"\(last)\":2}"
    }

    @Test(
        "rejects malformed and hostile documents",
        arguments: [
            ("", JSONParseError.Reason.unexpectedEnd),
            ("{", .unexpectedEnd),
            ("{\"a\":1,}", .unexpectedByte),
            ("[1,]", .unexpectedByte),
            ("{\"a\":1}x", .trailingContent),
            ("{\"a\":1,\"a\":2}", .duplicateKey),
            // Past the small-object scan: found by the set of keys, as the first key or a late one.
            (Self.object(keys: 40, then: "k0"), .duplicateKey),
            (Self.object(keys: 5_000, then: "k4999"), .duplicateKey),
            (Self.object(first: "e\u{301}", keys: 20, then: "\u{e9}"), .duplicateKey),
            ("01", .trailingContent),
            ("-", .unexpectedEnd),
            ("1.", .unexpectedEnd),
            ("1.e5", .invalidNumber),
            ("+1", .unexpectedByte),
            ("NaN", .unexpectedByte),
            ("tru", .unexpectedEnd),
            ("\"a\u{01}b\"", .controlCharacterInString),
            ("\"\\x\"", .invalidEscape),
            ("\"\\ud800\"", .invalidEscape),
            ("\"\\udc00\"", .invalidEscape),
            ("\"\\u12\"", .invalidEscape),
            ("'a'", .unexpectedByte),
            (String(repeating: "[", count: 33) + String(repeating: "]", count: 33), .tooDeep),
            (String(repeating: "9", count: 65), .numberTooLong),
        ])
    func rejects(input: String, reason: JSONParseError.Reason) {
        #expect(throws: JSONParseError.self) { try parser.parse(input) }
        do {
            _ = try parser.parse(input)
        } catch {
            #expect(error.reason == reason, "input \(input.debugDescription)")
        }
    }

    @Test("rejects invalid UTF-8 inside strings")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(throws: JSONParseError(.invalidUTF8, at: 1)) { try parser.parse(bytes) }
        }
    }

    @Test("accepts nesting up to the depth limit")
    func depthLimit() throws {
        let deep = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        _ = try parser.parse(deep)
    }

    @Test("writer escapes what JSON requires and output parses back")
    func writerEscapes() throws {
        let text = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 😀"
        let encoded = JSONValue.string(text).jsonText
        #expect(encoded == #""quote\" backslash\\ newline\n tab\t nul\u0000 bell\u0007 é 😀""#)
        #expect(try parser.parse(encoded) == .string(text))
    }

    @Test("agrees with Foundation's parser on generated documents")
    func differentialAgainstFoundation() throws {
        var generator = SeededGenerator(seed: 42)
        let alphabet = Array(#"{}[]:,"\ abc01-.eE+tfnul"#.utf8) + [0x09, 0x0A, 0xC3, 0xA9]
        var compared = 0
        for _ in 0..<20000 {
            let length = Int.random(in: 1...24, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            let text = String(decoding: bytes, as: UTF8.self).debugDescription
            do {
                _ = try parser.parse(bytes)
                // Everything we accept, Foundation accepts too.
                #expect(foundation != nil, "we accepted \(text)")
                compared += 1
            } catch {
                // Where Foundation accepts and we refuse, it is one of our deliberate extra rules.
                if foundation != nil {
                    #expect([.duplicateKey, .tooDeep, .numberTooLong].contains(error.reason), "we rejected \(text): \(error)")
                }
            }
        }
        // Valid documents from structured generation must be accepted by both, with equal content.
        for _ in 0..<2000 {
            let value = randomValue(depth: 0, using: &generator)
            let text = value.jsonText
            let reparsed = try parser.parse(text)
            #expect(reparsed == value)
            let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            let back = try JSONSerialization.data(withJSONObject: foundation, options: [.fragmentsAllowed, .sortedKeys])
            let ourSorted = try JSONSerialization.data(
                withJSONObject: JSONSerialization.jsonObject(with: Data(reparsed.jsonText.utf8), options: [.fragmentsAllowed]),
                options: [.fragmentsAllowed, .sortedKeys])
            #expect(back == ourSorted)
        }
        #expect(compared > 50, "the generator should produce some valid documents")
    }

    private func randomValue(depth: Int, using generator: inout SeededGenerator) -> JSONValue {
        let choice = Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator)
        switch choice {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .number(String(Int.random(in: -1_000_000...1_000_000, using: &generator)))
        case 3:
            let scalars = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                ["a", "é", "\"", "\\", "\n", "\u{1}", "😀", " "].randomElement(using: &generator)!
            }
            return .string(scalars.joined())
        case 4:
            return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var object = JSONObject()
            for i in 0..<Int.random(in: 0...4, using: &generator) {
                object["k\(i)"] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(object)
        }
    }
}
