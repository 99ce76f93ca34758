import StrictJSON
import Testing
import UserRPCTestKit

/// The server answers the common shape of GetUser from the frame's bytes (the hot path) and every other
/// frame the general way. A client must not be able to tell the two apart.
@Suite("Hot path answers exactly as the general path")
struct HotPathTests {
    @Test("GetUser answered on the hot path is byte for byte the general path's answer")
    func sameBytes() async throws {
        try await withTestServer(backend: .embedded) { server in
            let connection = try await server.rawConnection()
            // An email with characters the encoder must escape, and non-ASCII text.
            let emails = [#"plain@example.com"#, #"q\"uo\\te.\u00e9@example.com"#]
            for (index, email) in emails.enumerated() {
                try await connection.send(
                    #"{"type":"request","id":1,"method":"user.v1.UserService/RegisterUser","payload":{"username":"hot\#(index)","email":"\#(email)"}}"#
                )
                let registered = try await connection.expectFrame()
                #expect(registered.statusCode == "OK", "\(registered)")
                let id = try #require(registered.payload?["id"]?.stringValue)
                // The hot path's shape, then shapes it declines (an escaped metadata value, an escaped key,
                // another key order and an escaped slash), which the general path answers. Each carries the
                // same request id, which the answer returns.
                let hot =
                    #"{"type":"request","id":7,"method":"user.v1.UserService/GetUser","metadata":{"x-request-id":"same"},"payload":{"id":"\#(id)"}}"#
                let general = [
                    #"{"type":"request","id":7,"method":"user.v1.UserService/GetUser","metadata":{"x-request-id":"s\u0061me"},"payload":{"id":"\#(id)"}}"#,
                    #"{"type":"request","id":7,"method":"user.v1.UserService/GetUser","metadata":{"x-request-id":"same"},"payload":{"\u0069d":"\#(id)"}}"#,
                    #"{"payload":{"id":"\#(id)"},"id":7,"type":"request","metadata":{"x-request-id":"same"},"method":"user.v1.UserService\/GetUser"}"#,
                ]
                try await connection.send(hot)
                let hotBody = try #require(try await connection.nextBody())
                let hotFrame = try #require(try JSONParser().parse(hotBody).objectValue)
                #expect(hotFrame.statusCode == "OK")
                #expect(hotFrame.payload?["email"] == registered.payload?["email"])
                for frame in general {
                    try await connection.send(frame)
                    let generalBody = try #require(try await connection.nextBody())
                    #expect(generalBody == hotBody, "\(String(decoding: generalBody, as: UTF8.self)) vs \(String(decoding: hotBody, as: UTF8.self))")
                }
            }
            await connection.close()
        }
    }

    @Test("calls the hot path declines still get the general path's errors")
    func declinedCalls() async throws {
        try await withTestServer(backend: .embedded) { server in
            let connection = try await server.rawConnection()
            let cases: [(frame: String, code: String)] = [
                (
                    #"{"type":"request","id":1,"method":"user.v1.UserService/GetUser","payload":{"id":"00000000-0000-7000-8000-000000000000"}}"#,
                    "NOT_FOUND"
                ),
                (#"{"type":"request","id":2,"method":"user.v1.UserService/GetUser","payload":{"id":"not-a-uuid"}}"#, "INVALID_ARGUMENT"),
                (#"{"type":"request","id":3,"method":"user.v1.UserService/GetUser","payload":{"id":"x","extra":"y"}}"#, "INVALID_ARGUMENT"),
                (#"{"type":"request","id":4,"method":"user.v1.UserService/GetUser","payload":{"id":1}}"#, "INVALID_ARGUMENT"),
                (
                    #"{"type":"request","id":5,"method":"user.v1.UserService/GetUser","timeout_ms":0,"payload":{"id":"00000000-0000-7000-8000-000000000000"}}"#,
                    "DEADLINE_EXCEEDED"
                ),
                (
                    #"{"type":"request","id":6,"method":"user.v1.UserService/GetUserX","payload":{"id":"00000000-0000-7000-8000-000000000000"}}"#,
                    "UNIMPLEMENTED"
                ),
            ]
            for (frame, code) in cases {
                try await connection.send(frame)
                let response = try await connection.expectFrame()
                #expect(response.statusCode == code, "\(frame) -> \(response)")
            }
            await connection.close()
        }
    }
}
