import Foundation
import StrictJSON
import Testing
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserV1

/// `Schemas/user.v1.json` is the contract: these tests hold the code to it.
@Suite("Schema contract")
struct SchemaContractTests {
    static let schemaFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schemas/user.v1.json")

    let schema = UserServiceV1.schema
    var validator: SchemaValidator { SchemaValidator(schema: schema) }

    static let messageTypes: [any RPCMessage.Type] = [
        RegisterUserRequest.self, GetUserRequest.self, SearchUsersRequest.self, User.self, SearchUsersResponse.self,
    ]

    @Test("the schema built into the code is Schemas/user.v1.json byte for byte (rerun scripts/generate-schema.sh)")
    func embeddedCopyIsCurrent() throws {
        let file = try String(contentsOf: Self.schemaFile, encoding: .utf8)
        #expect(schema.text == file.trimmingSuffixNewline)
    }

    @Test("the server serves exactly the schema's methods; its registration checks the messages against the schema")
    func methodsMatch() async throws {
        #expect(schema.fullServiceName == UserServiceV1.name)
        let server = try await TestServer.start()
        #expect(server.server.methodNames == schema.methods.map(\.fullName).sorted())
        try await server.stop()
        #expect(Set(schema.messages.keys) == Set(Self.messageTypes.map { $0.messageName }))
    }

    @Test("each message type writes the schema's fields, and requires exactly the schema's required fields")
    func fieldsMatch() throws {
        for type in Self.messageTypes {
            let fields = schema.fields(of: type.messageName)
            // Decoding an empty object reports each required field, and no other.
            var missing: [String] = []
            do {
                _ = try type.decode(json: JSONObject(), unknownFields: .reject)
            } catch {
                missing = error.violations.filter { $0.description == "is required" }.map(\.field)
            }
            #expect(missing == fields.filter(\.isRequired).map(\.name), "\(type.messageName)")
            // An unknown field is refused by name.
            do {
                _ = try type.decode(json: JSONObject(["surprise": true]), unknownFields: .reject)
                Issue.record("\(type.messageName) accepted an unknown field")
            } catch {
                #expect(error.violations.contains { $0.field == "surprise" })
            }
        }
    }

    @Test("every field of every request refuses a value of the wrong JSON type, naming the field", arguments: Backend.allCases)
    func wrongTypesRejected(backend: Backend) async throws {
        let server = try await TestServer.start(backend: backend)
        let connection = try await server.rawConnection()
        var id: UInt64 = 0
        for method in schema.methods {
            for field in schema.fields(of: method.request) {
                let wrong: String = field.type == "string" ? "12" : #""twelve""#
                id += 1
                try await connection.send(#"{"type":"request","id":\#(id),"method":"\#(method.fullName)","payload":{"\#(field.name)":\#(wrong)}}"#)
                let response = try await connection.expectFrame()
                #expect(response.statusCode == "INVALID_ARGUMENT", "\(method.name).\(field.name)")
                let violations = response["status"]?.objectValue?["details"]?.objectValue?["field_violations"]
                guard case .array(let entries)? = violations else {
                    Issue.record("no field_violations for \(method.name).\(field.name)")
                    continue
                }
                #expect(entries.contains { $0.objectValue?["field"] == .string(field.name) }, "\(method.name).\(field.name)")
            }
        }
        await connection.close()
        try await server.stop()
    }

    @Test("every method in the schema is served, and its responses conform to the schema's message", arguments: Backend.allCases)
    func servedAndConforming(backend: Backend) async throws {
        let server = try await TestServer.start(backend: backend)
        let connection = try await server.rawConnection()
        // Valid requests, built from the schema's own descriptions of the fields.
        try await connection.send(
            #"{"type":"request","id":1,"method":"user.v1.UserService/RegisterUser","payload":{"username":"Schema.Test","email":"schema@example.com"}}"#
        )
        let registered = try await connection.expectFrame()
        let userID = try #require(registered.payload?["id"]?.stringValue)
        let requests: [String: String] = [
            "RegisterUser": #"{"username":"second_user","email":"second@example.com"}"#,
            "GetUser": #"{"id":"\#(userID)"}"#,
            "SearchUsers": #"{"username":"s","limit":1}"#,
        ]
        var id: UInt64 = 10
        for method in schema.methods {
            let payload = try #require(requests[method.name], "no sample request for \(method.name): add one")
            #expect(validator.problems(try JSONParser().parse(payload), message: method.request).isEmpty)
            id += 1
            try await connection.send(#"{"type":"request","id":\#(id),"method":"\#(method.fullName)","payload":\#(payload)}"#)
            let response = try await connection.expectFrame()
            #expect(response.statusCode == "OK", "\(method.name): \(response)")
            let body = JSONValue.object(response.payload ?? JSONObject())
            #expect(validator.problems(body, message: method.response) == [], "\(method.name)")
        }
        await connection.close()
        try await server.stop()
    }

    @Test("the validator itself catches non-conforming messages")
    func validatorCatchesProblems() throws {
        let bad = try JSONParser().parse(#"{"id":"NOT-A-UUID","username":"x","email":"e","created_at":"yesterday","extra":1}"#)
        let problems = validator.problems(bad, message: "User")
        #expect(problems.count == 3)
        let missing = validator.problems(try JSONParser().parse(#"{"users":[{"id":"x"}]}"#), message: "SearchUsersResponse")
        #expect(!missing.isEmpty)
    }
}

extension String {
    var trimmingSuffixNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
