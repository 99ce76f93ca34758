import Foundation
import StrictJSON
import Testing
import UserCore

@Suite("Validation rules")
struct UserValidationTests {
    @Test("accepts valid usernames", arguments: ["ada", "Ada.Lovelace", "a_b-c", "0cool", String(repeating: "x", count: 100)])
    func validUsernames(username: String) {
        #expect(UserValidation.usernameProblem(username) == nil)
    }

    @Test(
        "rejects invalid usernames",
        arguments: ["", "ab", String(repeating: "x", count: 101), "_ada", ".ada", "-ada", "ada lovelace", "adá", "ada@home", "ada/x"])
    func invalidUsernames(username: String) {
        #expect(UserValidation.usernameProblem(username) != nil)
    }

    @Test(
        "accepts valid emails",
        arguments: ["ada@example.com", "a@b.co", "Ada.Lovelace+tag@Example.ORG", String(repeating: "l", count: 64) + "@example.com"])
    func validEmails(email: String) {
        #expect(UserValidation.emailProblem(email) == nil)
    }

    @Test(
        "rejects invalid emails",
        arguments: [
            "", "ada", "@example.com", "ada@", "ada@example", "ada@@example.com", "a@b@example.com", "ada @example.com",
            "ada@exa mple.com", "ada@.com", "ada@example.", String(repeating: "l", count: 65) + "@example.com",
            "a@" + String(repeating: "d", count: 250) + ".com", "ada\t@example.com",
        ])
    func invalidEmails(email: String) {
        #expect(UserValidation.emailProblem(email) != nil)
    }

    @Test("reports one violation per bad field")
    func violationsPerField() {
        let both = UserValidation.registrationProblems(username: "x", email: "nope")
        #expect(both.map(\.field) == ["username", "email"])
        let one = UserValidation.registrationProblems(username: "valid", email: "nope")
        #expect(one.map(\.field) == ["email"])
    }

    @Test("parses only canonical UUID text")
    func userIDs() throws {
        let id = try #require(UUID(strictText: "3F1C0B7E-8D2A-7C4E-9B1A-2F6D5E4C3B2A"))
        #expect(id.lowercasedText == "3f1c0b7e-8d2a-7c4e-9b1a-2f6d5e4c3b2a")
        for bad in [
            "", "3f1c0b7e8d2a7c4e9b1a2f6d5e4c3b2a", "3f1c0b7e-8d2a-7c4e-9b1a-2f6d5e4c3b2", "{3f1c0b7e-8d2a-7c4e-9b1a-2f6d5e4c3b2a}",
            "3g1c0b7e-8d2a-7c4e-9b1a-2f6d5e4c3b2a",
        ] {
            #expect(UUID(strictText: bad) == nil)
        }
    }

    @Test("search limits are 1...100 with a default of 20")
    func searchLimits() throws {
        func query(limit: Int? = nil, pageToken: String? = nil) throws(UserError) -> UserSearchQuery {
            try UserValidation.searchQuery(username: nil, email: nil, limit: limit, pageToken: pageToken, pageTokens: PageTokens(key: [1, 2, 3]))
        }
        #expect(try query().limit == 20)
        #expect(try query(limit: 1).limit == 1)
        #expect(try query(limit: 100).limit == 100)
        for limit in [0, 101, -1] {
            #expect(throws: UserError.invalidArgument([InvalidField(field: "limit", description: "must be between 1 and 100")])) {
                try query(limit: limit)
            }
        }
        #expect(throws: UserError.self) { try query(pageToken: "not-a-token!") }
        #expect(throws: UserError.self) { try query(pageToken: "YWJj") }
        #expect(try query(pageToken: "").after == nil, "an empty token is the first page")
    }

    @Test("page tokens round-trip, only for the search that issued them, only under their key")
    func pageTokens() throws {
        let tokens = PageTokens(key: Array("a key".utf8))
        let cursor = UserSearchCursor(usernameKey: "ada.l", id: try #require(UUID(strictText: "01a21b12-9b43-75d8-9f54-8e0fb98dfbe1")))
        let query = UserSearchQuery(usernamePrefix: "ad", email: nil, limit: 10)
        let token = tokens.token(after: cursor, of: query)
        #expect(tokens.cursor(from: token, for: query) == cursor)
        #expect(tokens.cursor(from: token, for: UserSearchQuery(usernamePrefix: "a", email: nil, limit: 10)) == nil, "other filter")
        #expect(tokens.cursor(from: token, for: UserSearchQuery(usernamePrefix: "ad", email: "x@y.z", limit: 10)) == nil, "another filter")
        #expect(tokens.cursor(from: token, for: UserSearchQuery(usernamePrefix: "ad", email: nil, limit: 11)) == nil, "other limit")
        #expect(PageTokens(key: Array("another key".utf8)).cursor(from: token, for: query) == nil, "another store's key")
        // The old, unsigned form, and the position changed by hand: refused.
        let unsigned = Data("v1|ada.l|01a21b12-9b43-75d8-9f54-8e0fb98dfbe1".utf8).base64EncodedString()
            .replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        #expect(tokens.cursor(from: unsigned, for: query) == nil)
        var forged = Array(
            Data(base64Encoded: token.replacing("-", with: "+").replacing("_", with: "/") + String(repeating: "=", count: (4 - token.count % 4) % 4))!
        )
        forged[16] = UInt8(ascii: "b")
        let forgedToken = Data(forged).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        #expect(tokens.cursor(from: forgedToken, for: query) == nil)
        #expect(PageTokens.key(hex: "00ff10") == [0, 255, 16] && PageTokens.key(hex: "0g").isEmpty && PageTokens.key(hex: "abc").isEmpty)
    }

    @Test("formats RFC 3339 UTC timestamps with milliseconds")
    func timestamps() {
        #expect(RFC3339.format(.init(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(.init(timeIntervalSince1970: 1_795_000_000.123)) == "2026-11-18T11:06:40.123Z")
        #expect(RFC3339.format(.init(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }

    @Test("new ids are version 7 and time-ordered")
    func version7() {
        let early = UUID.version7(at: .init(timeIntervalSince1970: 1_700_000_000))
        let late = UUID.version7(at: .init(timeIntervalSince1970: 1_700_000_001))
        #expect(early.lowercasedText[early.lowercasedText.index(early.lowercasedText.startIndex, offsetBy: 14)] == "7")
        #expect(early.lowercasedText < late.lowercasedText)
    }
}
