import Foundation
import HealthV1
import ReflectionV1
import StrictJSON
import Testing
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserV1
import UserV2

/// A service version under contract: its schema file, the schema built into the code, its message types.
struct ContractedService: Sendable, CustomStringConvertible {
    var file: String
    var schema: ServiceSchema
    var messageTypes: [any RPCMessage.Type]
    var description: String { schema.package }

    static let all = [
        ContractedService(file: "Schemas/user.v1.json", schema: UserServiceV1.schema, messageTypes: UserServiceV1.messageTypes),
        ContractedService(file: "Schemas/user.v2.json", schema: UserServiceV2.schema, messageTypes: UserServiceV2.messageTypes),
        ContractedService(file: "Schemas/health.v1.json", schema: HealthServiceV1.schema, messageTypes: HealthServiceV1.messageTypes),
        ContractedService(file: "Schemas/reflection.v1.json", schema: ReflectionServiceV1.schema, messageTypes: ReflectionServiceV1.messageTypes),
    ]
}

/// `Schemas/` is the contract: these tests hold the code to every schema in it.
@Suite("Schema contract")
struct SchemaContractTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var validator: SchemaValidator { SchemaValidator(schema: UserServiceV1.schema) }

    @Test("every schema in Schemas/ is built into the code byte for byte (rerun scripts/generate.sh)", arguments: ContractedService.all)
    func embeddedCopyIsCurrent(service: ContractedService) throws {
        let file = try String(contentsOf: Self.root.appendingPathComponent(service.file), encoding: .utf8)
        #expect(service.schema.text == file, "byte for byte, the last newline included")
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("Schemas").path)
        #expect(Set(files) == Set(ContractedService.all.map { URL(fileURLWithPath: $0.file).lastPathComponent }))
    }

    @Test("the server serves exactly the schemas' methods; its registration checks the messages against the schemas")
    func methodsMatch() async throws {
        try await TestServer.start().scoped { server in
            #expect(server.server.methodNames == ContractedService.all.flatMap { $0.schema.methods.map(\.fullName) }.sorted())
        }
        for service in ContractedService.all {
            #expect(Set(service.schema.messages.keys) == Set(service.messageTypes.map { $0.messageName }), "\(service)")
        }
    }

    @Test("each message type requires exactly the schema's required fields and refuses unknown ones", arguments: ContractedService.all)
    func fieldsMatch(service: ContractedService) throws {
        for type in service.messageTypes {
            let fields = service.schema.fields(of: type.messageName)
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

    @Test(
        "every field of every request refuses a value of the wrong JSON type, naming the field",
        arguments: Backend.allCases, ContractedService.all)
    func wrongTypesRejected(backend: Backend, service: ContractedService) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            var id: UInt64 = 0
            for method in service.schema.methods {
                for field in service.schema.fields(of: method.request) {
                    let wrong: String = field.type == "string" ? "12" : #""twelve""#
                    id += 1
                    try await connection.send(
                        #"{"type":"request","id":\#(id),"method":"\#(method.fullName)","payload":{"\#(field.name)":\#(wrong)}}"#)
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
        }
    }

    @Test("every method in the schemas is served, and its responses conform to the schema's message", arguments: Backend.allCases)
    func servedAndConforming(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let connection = try await server.rawConnection()
            var id: UInt64 = 0
            for service in ContractedService.all {
                let package = service.schema.package
                let validator = SchemaValidator(schema: service.schema)
                func call(_ method: String, _ payload: String) async throws -> JSONObject {
                    id += 1
                    let schemaMethod = try #require(service.schema.method(named: method))
                    #expect(validator.problems(try JSONParser().parse(payload), message: schemaMethod.request).isEmpty, "\(method)")
                    try await connection.send(#"{"type":"request","id":\#(id),"method":"\#(schemaMethod.fullName)","payload":\#(payload)}"#)
                    return try await connection.expectFrame()
                }
                var userID = "00000000-0000-7000-8000-000000000000"
                if service.schema.method(named: "RegisterUser") != nil {
                    let registered = try await call("RegisterUser", #"{"username":"Schema.\#(id)","email":"schema\#(id)@example.com"}"#)
                    userID = try #require(registered.payload?["id"]?.stringValue)
                }
                // Valid requests, built from the schema's own descriptions of the fields.
                let requests: [String: String] = [
                    "RegisterUser": #"{"username":"second\#(id)","email":"second\#(id)@example.com"}"#,
                    "GetUser": #"{"id":"\#(userID)"}"#,
                    "SearchUsers": #"{"username":"s","limit":1}"#,
                    "UpdateUser": #"{"id":"\#(userID)","email":"changed\#(id)@example.com","expected_version":1}"#,
                    "DeleteUser": #"{"id":"\#(userID)"}"#,
                    "Check": #"{"service":"user.v1.UserService"}"#,
                    "Watch": #"{"service":"user.v1.UserService"}"#,
                    // Its first message is the bookmark it starts after (events are tested in WatchUsersTests).
                    "WatchUsers": #"{"bookmarks":true}"#,
                    "ListServices": "{}",
                    "DescribeService": #"{"service":"user.v1"}"#,
                ]
                for method in service.schema.methods {
                    let payload = try #require(requests[method.name], "no sample request for \(method.name): add one")
                    if method.isServerStreaming {
                        // Its first message conforms; then the client ends the stream.
                        let message = try await call(method.name, payload)
                        #expect(message["type"]?.stringValue == "message", "\(package) \(method.name): \(message)")
                        let body = JSONValue.object(message.payload ?? JSONObject())
                        #expect(validator.problems(body, message: method.response) == [], "\(package) \(method.name)")
                        try await connection.send(#"{"type":"cancel","id":\#(id)}"#)
                        #expect(try await connection.expectFrame().statusCode == "CANCELLED")
                        continue
                    }
                    let response = try await call(method.name, payload)
                    #expect(response.statusCode == "OK", "\(package) \(method.name): \(response)")
                    let body = JSONValue.object(response.payload ?? JSONObject())
                    #expect(validator.problems(body, message: method.response) == [], "\(package) \(method.name)")
                }
            }
            await connection.close()
        }
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
