import Foundation
import Testing

@testable import UserRPCGenerator

/// The generator's reading of schemas: the type mapping, and the schemas it refuses with a reason
/// instead of writing Swift that does not compile.
@Suite("Generator: reading schemas")
struct ServiceDefinitionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func schema(fields: String, required: String = "[]", request: String = "Req", methods: String? = nil) -> String {
        let method = methods ?? #"[{"name":"Call","full_name":"t.v1.T/Call","request":"\#(request)","response":"Req","description":"d"}]"#
        return
            #"{"package":"t.v1","service":"T","methods":\#(method),"messages":{"Req":{"type":"object","required":\#(required),"properties":{\#(fields)}}}}"#
    }

    func problem(_ text: String) -> String? {
        do {
            _ = try ServiceDefinition(text: text, path: "t.json")
            return nil
        } catch {
            return error.description
        }
    }

    @Test("user.v2 reads as the code has it: fields in schema order, Swift types by the documented mapping")
    func userV2() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Schemas/user.v2.json"), encoding: .utf8)
        let definition = try ServiceDefinition(text: text, path: "Schemas/user.v2.json")
        #expect(definition.fullServiceName == "user.v2.UserService")
        #expect(definition.methods.map(\.swiftName) == ["registerUser", "getUser", "searchUsers", "updateUser", "deleteUser", "watchUsers"])
        // WatchUsers: a stream that resumes after a cursor, with bookmarks marked by `kind`.
        let watch = try #require(definition.methods.last)
        #expect(watch.isServerStreaming)
        let resume = try #require(definition.resume(of: watch))
        #expect(resume.requestField == "since" && resume.responseField == "cursor" && resume.bookmarksField == "bookmarks")
        #expect(resume.bookmarkKind?.field == "kind" && resume.bookmarkKind?.value == "BOOKMARK")
        let event = try #require(definition.messages.first { $0.name == "UserEvent" })
        #expect(event.fields.map { MessagesEmitter.swiftType($0) } == ["String", "Kind", "User", "Date"])
        #expect(event.fields.first { $0.name == "user" }?.type == .message("User"))
        let search = try #require(definition.messages.first { $0.name == "SearchUsersRequest" })
        #expect(search.fields.map(\.swiftName) == ["username", "email", "limit", "pageToken"])
        #expect(search.fields.map { MessagesEmitter.swiftType($0) } == ["String", "String", "Int", "String"])
        let user = try #require(definition.messages.first { $0.name == "User" })
        let types = Dictionary(uniqueKeysWithValues: user.fields.map { ($0.name, MessagesEmitter.swiftType($0)) })
        #expect(types["id"] == "UUID" && types["created_at"] == "Date" && types["version"] == "UInt64" && types["username"] == "String")
        #expect(user.fields.filter(\.isRequired).map(\.name) == ["id", "username", "email", "created_at", "updated_at", "version"])
    }

    @Test("names the generated Swift could not use are refused, naming the place")
    func refusedNames() {
        #expect(problem(Self.schema(fields: #""default":{"type":"string"}"#))?.contains("Req.default") == true)
        #expect(problem(Self.schema(fields: #""pageToken":{"type":"string"}"#))?.contains("snake_case") == true)
        #expect(problem(Self.schema(fields: #""options":{"type":"string"}"#))?.contains("'options'") == true)
        #expect(problem(Self.schema(fields: #""type":{"type":"string","enum":["A"]}"#))?.contains("nested Swift type") == true)
        #expect(problem(Self.schema(fields: #""kind":{"type":"string","enum":[]}"#))?.contains("at least one value") == true)
        #expect(problem(Self.schema(fields: #""kind":{"type":"string","enum":["A","A"]}"#))?.contains("each once") == true)
        #expect(problem(Self.schema(fields: #""kind":{"type":"string","enum":["a-b"]}"#))?.contains("SCREAMING_SNAKE_CASE") == true)
        #expect(problem(Self.schema(fields: #""kind":{"type":"string","enum":[1]}"#))?.contains("must be a string") == true)
        #expect(problem(Self.schema(fields: "", methods: "[]"))?.contains("no methods") == true)
        #expect(problem(Self.schema(fields: "", request: "Missing"))?.contains("does not define") == true)
        #expect(problem(Self.schema(fields: #""n":{"type":"number"}"#))?.contains("not supported") == true)
        #expect(problem(Self.schema(fields: #""kind":{"type":"string","enum":["FIRST_ONE","SECOND"]}"#)) == nil)
    }

    @Test("a nested message field must be optional and name a message; a resume note needs a stream and the fields it names")
    func refusedMessageFieldsAndResumes() {
        let selfField = ##""child":{"$ref":"#/messages/Req"}"##
        #expect(problem(Self.schema(fields: selfField))?.contains("cannot hold itself") == true)
        #expect(problem(Self.schema(fields: selfField, required: #"["child"]"#))?.contains("must be optional") == true)
        #expect(problem(Self.schema(fields: ##""child":{"$ref":"#/definitions/Req"}"##))?.contains("must name a message") == true)
        #expect(problem(Self.schema(fields: ##""child":{"$ref":"#/messages/Gone"}"##))?.contains("does not define") == true)
        func stream(_ resume: String) -> String {
            #"[{"name":"Call","full_name":"t.v1.T/Call","request":"Req","response":"Req","streaming":"server","resume":\#(resume)}]"#
        }
        let fields = #""after":{"type":"string"},"at":{"type":"string"},"marks":{"type":"boolean"},"kind":{"type":"string","enum":["A","MARK"]}"#
        let good = #"{"request_field":"after","response_field":"at","bookmarks_field":"marks","bookmark_kind":"MARK"}"#
        #expect(problem(Self.schema(fields: fields, required: #"["at","kind"]"#, methods: stream(good))) == nil)
        // Not a stream; a missing or optional cursor field; a bookmark flag without its kind; a kind no enum has.
        let unary = #"[{"name":"Call","full_name":"t.v1.T/Call","request":"Req","response":"Req","resume":\#(good)}]"#
        #expect(problem(Self.schema(fields: fields, required: #"["at","kind"]"#, methods: unary))?.contains("server-streaming") == true)
        #expect(problem(Self.schema(fields: fields, required: #"["kind"]"#, methods: stream(good)))?.contains("required string field at") == true)
        let flagOnly = #"{"request_field":"after","response_field":"at","bookmarks_field":"marks"}"#
        #expect(problem(Self.schema(fields: fields, required: #"["at","kind"]"#, methods: stream(flagOnly)))?.contains("together") == true)
        let unknownKind = #"{"request_field":"after","response_field":"at","bookmarks_field":"marks","bookmark_kind":"NOPE"}"#
        #expect(problem(Self.schema(fields: fields, required: #"["at","kind"]"#, methods: stream(unknownKind)))?.contains("NOPE") == true)
    }

    @Test("user.v2 shares the messages user.v1 has alike, and not those holding a message that changed")
    func sharedMessages() throws {
        func read(_ name: String) throws -> ServiceDefinition {
            let text = try String(contentsOf: Self.root.appendingPathComponent("Schemas/\(name).json"), encoding: .utf8)
            return try ServiceDefinition(text: text, path: "Schemas/\(name).json")
        }
        let v1 = try read("user.v1")
        let v2 = try read("user.v2")
        // SearchUsersResponse reads the same in both schemas, but holds `User`, which v2 changed.
        #expect(v2.messagesShared(with: v1) == ["RegisterUserRequest", "GetUserRequest", "SearchUsersRequest"])
        #expect(v1.messagesShared(with: v1) == Set(v1.messages.map(\.name)))
        // A field's description is part of the message: the generated type documents it.
        var edited = v1
        edited.messages[1].fields[0].description = "Another description."
        #expect(v2.messagesShared(with: edited) == ["RegisterUserRequest", "SearchUsersRequest"])
    }
}
