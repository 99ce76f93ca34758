import Foundation
import StrictJSON
import Testing
import UserRPCServer
import UserRPCTestKit
import UserRPCWire
import UserV2

/// Drives the real `user-rpc` binary (built beside the tests) against a live server.
@Suite("user-rpc command line")
struct CLIEndToEndTests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: JSONObject? { (try? JSONParser().parse(stdout))?.objectValue }
    }

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("user-rpc")
    }

    private func run(_ arguments: [String], port: Int, stdin: String? = nil) async throws -> Outcome {
        let binary = Self.binary
        #expect(FileManager.default.isExecutableFile(atPath: binary.path), "build the user-rpc product first: \(binary.path)")
        // The child's I/O blocks: it runs on a thread pool, never on the cooperative threads that the
        // server under test needs.
        return try await withTimeout(seconds: 30) {
            try await blocking { try Self.runProcess(binary: binary, arguments: arguments, port: port, stdin: stdin) }
        }
    }

    private static func runProcess(binary: URL, arguments: [String], port: Int, stdin: String?) throws -> Outcome {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["USER_RPC_ADDRESS"] = "127.0.0.1:\(port)"
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try launchingChildren { try process.run() }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test("user.v2 from the command line: --service or a full name; short names stay v1; list and describe show both")
    func versionTwo() async throws {
        try await withTestServer { server in
            let registered = try await run(
                ["call", "RegisterUser", "--service", "user.v2", "--username", "cli", "--email", "cli@example.com"], port: server.port)
            #expect(registered.status == 0, "\(registered.stderr)")
            #expect(registered.json?["version"] == 1)
            let id = try #require(registered.json?["id"]?.stringValue)
            // A short name without --service is v1: no version in the answer.
            let v1 = try await run(["call", "GetUser", "--id", id], port: server.port)
            #expect(v1.json?.keys == ["id", "username", "email", "created_at"])
            let updated = try await run(
                ["call", "UpdateUser", "--service", "user.v2", "--id", id, "--email", "new@example.com", "--expected-version", "1"], port: server.port
            )
            #expect(updated.json?["version"] == 2)
            let stale = try await run(
                ["call", "UpdateUser", "--service", "user.v2", "--id", id, "--username", "x1y", "--expected-version", "1"], port: server.port)
            #expect(stale.status == 110, "ABORTED is 100 + 10")
            #expect(stale.stderr.contains("\"current_version\": 2"))
            // A short name that only v2 has needs no --service.
            let onlyV2 = try await run(["call", "UpdateUser", "--id", id, "--email", "e@example.com"], port: server.port)
            #expect(onlyV2.json?["version"] == 3, "\(onlyV2.stderr)")
            let unknownService = try await run(["call", "GetUser", "--service", "user.v9", "--id", id], port: server.port)
            #expect(unknownService.status == 64)
            let deleted = try await run(["call", "user.v2.UserService/DeleteUser", "--id", id], port: server.port)
            #expect(deleted.status == 0 && deleted.json == JSONObject())
            let list = try await run(["list"], port: server.port)
            #expect(list.stdout.contains("user.v1.UserService/GetUser") && list.stdout.contains("user.v2.UserService/DeleteUser"))
            let describe = try await run(["describe", "User", "--service", "user.v2"], port: server.port)
            #expect(describe.stdout.contains("updated_at") && describe.stdout.contains("version"))
        }
    }

    @Test("call RegisterUser, GetUser and SearchUsers with schema-derived flags", arguments: Backend.allCases)
    func calls(backend: Backend) async throws {
        try await withTestServer(backend: backend) { server in
            let registered = try await run(["call", "RegisterUser", "--username", "ada", "--email", "ada@example.com"], port: server.port)
            #expect(registered.status == 0, "\(registered.stderr)")
            let id = try #require(registered.json?["id"]?.stringValue)
            #expect(registered.stdout.contains("\n  \"username\": \"ada\""), "pretty-printed")

            let fetched = try await run(["call", "GetUser", "--id", id], port: server.port)
            #expect(fetched.status == 0)
            #expect(fetched.json?["email"] == .string("ada@example.com"))

            let searched = try await run(["call", "SearchUsers", "--username", "A", "--limit=5"], port: server.port)
            #expect(searched.status == 0)
            guard case .array(let users)? = searched.json?["users"] else {
                Issue.record("no users in \(searched.stdout)")
                return
            }
            #expect(users.count == 1)

            let full = try await run(
                ["call", "user.v1.UserService/GetUser", "--json", #"{"id":"\#(id)"}"#, "--timeout", "5s", "-H", "x-trace:abc"], port: server.port)
            #expect(full.status == 0)
            let piped = try await run(["call", "GetUser", "--json", "-"], port: server.port, stdin: #"{"id":"\#(id)"}"#)
            #expect(piped.json?["id"] == .string(id))
        }
    }

    @Test("errors go to stderr with the code, and the exit status is 100 + the gRPC code", arguments: Backend.allCases)
    func errors(backend: Backend) async throws {
        try await TestServer.start(backend: backend).scoped { server in
            let notFound = try await run(["call", "GetUser", "--id", "00000000-0000-7000-8000-000000000000"], port: server.port)
            #expect(notFound.status == 105)
            #expect(notFound.stderr.contains("NOT_FOUND"))
            #expect(notFound.stdout.isEmpty)

            let invalid = try await run(["call", "RegisterUser", "--username", "x", "--email", "bad"], port: server.port)
            #expect(invalid.status == 103)
            #expect(invalid.stderr.contains("INVALID_ARGUMENT"))
            #expect(invalid.stderr.contains("field_violations"))

            _ = try await run(["call", "RegisterUser", "--username", "dup", "--email", "dup@example.com"], port: server.port)
            let duplicate = try await run(["call", "RegisterUser", "--username", "DUP", "--email", "dup2@example.com"], port: server.port)
            #expect(duplicate.status == 106)

            let usage = try await run(["call", "GetUser", "--nickname", "x"], port: server.port)
            #expect(usage.status == 64)
            #expect(usage.stderr.contains("--id"))
            try await server.stop()

            let unreachable = try await run(
                ["call", "GetUser", "--id", "00000000-0000-7000-8000-000000000000", "--timeout", "5s"], port: server.port)
            #expect(unreachable.status == 114)
            #expect(unreachable.stderr.contains("UNAVAILABLE"))
        }
    }

    @Test("bench: closed loop, pipelined and open loop runs report calls, percentiles, statuses and own CPU")
    func bench() async throws {
        try await withTestServer(backend: .embedded) { server in
            for extra in [[String](), ["--pipeline", "4"], ["--pipeline", "4", "--threads", "1"]] {
                let run = try await run(
                    ["bench", "GetUser", "--prepare", "20", "--concurrency", "8", "--connections", "2", "--requests", "400", "--format", "json"]
                        + extra, port: server.port)
                #expect(run.status == 0, "\(run.stderr)")
                let report = try #require(run.json, "\(run.stdout)")
                #expect(report["calls"] == .number("400"), "\(extra)")
                #expect(report["status"]?.objectValue?["OK"] == .number("400"), "\(extra)")
                let latency = try #require(report["latency_us"]?.objectValue)
                #expect(["p50", "p90", "p99", "p99.9", "max"].allSatisfy { latency[$0] != nil })
                #expect(report["bench_cpu_us_per_call"] != nil)
            }
            // Open loop at a fixed rate, bounded by time: never more calls than the schedule allows.
            let open = try await run(
                ["bench", "GetUser", "--id", "00000000-0000-7000-8000-000000000000", "--rate", "200", "--duration", "1s", "--format", "json"],
                port: server.port)
            #expect(open.status == 0, "\(open.stderr)")
            guard case .number(let callsText)? = open.json?["calls"], let calls = Int(callsText) else {
                Issue.record("no call count in \(open.stdout)")
                return
            }
            #expect((1...201).contains(calls), "\(open.stdout)")
            #expect(open.json?["status"]?.objectValue?["NOT_FOUND"] == .number(String(calls)))
            // SearchUsers and RegisterUser are read as their own response types.
            for (method, fields) in [("SearchUsers", ["--username", "p"]), ("RegisterUser", [])] {
                let typed = try await run(
                    ["bench", method, "--concurrency", "4", "--requests", "40", "--pipeline", "2", "--format", "json"] + fields, port: server.port)
                #expect(typed.status == 0, "\(typed.stderr)")
                #expect(typed.json?["status"]?.objectValue?["OK"] == .number("40"), "\(method): \(typed.stdout)")
            }
            // Usage errors exit 64.
            let bad = try await run(["bench", "GetUser", "--concurrency", "8", "--pipeline", "3"], port: server.port)
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("multiple of --pipeline"))
            let badThreads = try await run(["bench", "GetUser", "--threads", "0"], port: server.port)
            #expect(badThreads.status == 64)
        }
    }

    @Test("health: exit 0 only when SERVING; 2 for an unknown service; 114 when nothing listens; health.v1 is listed")
    func health() async throws {
        try await TestServer.start().scoped { server in
            let serving = try await run(["health"], port: server.port)
            #expect(serving.status == 0, "\(serving.stderr)")
            #expect(serving.stdout == "SERVING\n")
            let unknown = try await run(["health", "--service", "nope.v1.Nope"], port: server.port)
            #expect(unknown.status == 2)
            #expect(unknown.stdout.hasPrefix("UNKNOWN_SERVICE"))
            try await server.stop()
            let down = try await run(["health", "--address", "127.0.0.1:\(server.port)", "--timeout", "30s"], port: server.port)
            #expect(down.status == 114, "\(down.stderr)")
        }
        let listed = try await run(["list"], port: 1)
        #expect(listed.stdout.contains("health.v1.Health/Check"))
    }

    @Test("health --watch (and call Watch) print each status as it comes and exit 0 when the server ends the watch (its shutdown)")
    func healthWatch() async throws {
        try await TestServer.start { $0.shutdownDrainDelay = .seconds(600) }.scoped { server in
            // Draining: still serving calls, health NOT_SERVING; the watch reports it and ends.
            server.server.beginGracefulShutdown()
            let watched = try await run(["health", "--watch"], port: server.port)
            #expect(watched.status == 0, "\(watched.stderr)")
            #expect(watched.stdout == "NOT_SERVING (the server is shutting down)\n")
            // `call` on a streaming method: one JSON line per message, with no deadline by default.
            let called = try await run(["call", "health.v1.Health/Watch"], port: server.port)
            #expect(called.status == 0, "\(called.stderr)")
            #expect(called.stdout == #"{"status":"NOT_SERVING","detail":"the server is shutting down"}"# + "\n")
        }
        let listed = try await run(["list"], port: 1)
        #expect(listed.stdout.contains("health.v1.Health/Watch"))
    }

    @Test("watch prints one JSON line per change as it is committed; on interrupt it says on stderr where to resume; a stale cursor exits 111")
    func watchUsers() async throws {
        try await withTestServer { server in
            let client = server.client()
            let start = try #require(try await WatchUsersTests.take(1, from: client.v2.watchUsers(bookmarks: true)).first?.cursor)
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["watch", "--address", "127.0.0.1:\(server.port)", "--since", start, "--username-prefix", "cli."]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try launchingChildren { try process.run() }
            defer { if process.isRunning { process.terminate() } }
            _ = try await client.v2.registerUser(username: "other", email: "other@example.com")
            let ada = try await client.v2.registerUser(username: "cli.ada", email: "ada@example.com")
            let ada2 = try await client.v2.updateUser(id: ada.id, email: "ada2@example.com")
            // Two lines (the prefix left "other" out), read as they come.
            let lines = try await withTimeout(seconds: 30) {
                try await blocking { () -> [String] in
                    var text = ""
                    while text.filter({ $0 == "\n" }).count < 2 {
                        let chunk = out.fileHandleForReading.availableData
                        if chunk.isEmpty { break }
                        text += String(decoding: chunk, as: UTF8.self)
                    }
                    return text.split(separator: "\n").map(String.init)
                }
            }
            let events = try lines.map {
                try UserServiceV2.UserEvent.decode(json: try #require(try JSONParser().parse($0).objectValue), unknownFields: .reject)
            }
            #expect(events.map(\.kind) == [.registered, .updated])
            #expect(events.map(\.user) == [ada, ada2])
            process.interrupt()
            let stderr = try await blocking { err.fileHandleForReading.readDataToEndOfFile() }
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(String(decoding: stderr, as: UTF8.self) == "resume with: --since \(events[1].cursor)\n")

            let stale = try await run(["watch", "--since", "c1.1.1"], port: server.port)
            #expect(stale.status == 111, "\(stale.stderr)")
            #expect(stale.stderr.hasPrefix("error: OUT_OF_RANGE: "), "\(stale.stderr)")
        }
    }

    @Test("--address takes several servers: calls reach a live one when another is down; a bad entry is a usage error")
    func severalAddresses() async throws {
        try await withTestServer { server in
            // A port nothing listens on, on a loopback address no other test uses.
            let deadPort = try await TestServer.start { $0.host = "127.0.0.39" }.scoped { gone in gone.port }
            let fleet = "127.0.0.39:\(deadPort), 127.0.0.1:\(server.port)"
            let registered = try await run(
                ["call", "RegisterUser", "--address", fleet, "--username", "fleet", "--email", "fleet@example.com"], port: 1)
            #expect(registered.status == 0, "\(registered.stderr)")
            let id = try #require(registered.json?["id"]?.stringValue)
            for _ in 0..<3 {
                #expect(try await run(["call", "GetUser", "--address", fleet, "--id", id], port: 1).status == 0)
            }
            let bad = try await run(["call", "GetUser", "--address", "127.0.0.1:\(server.port),nowhere", "--id", id], port: 1)
            #expect(bad.status == 64 && bad.stderr.contains("address 'nowhere' is not host:port"), "\(bad.stderr)")
        }
    }

    @Test("with reflection the CLI lists, describes and calls a service it was not built with, its flags from the server's schema")
    func reflectedService() async throws {
        try await TestServer.start(extraServices: [EchoService()]).scoped { server in
            let address = "127.0.0.1:\(server.port)"
            let listed = try await run(["list", "--address", address], port: server.port)
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("echo.v1.Echo/Say"))
            #expect(listed.stdout.contains("user.v2.UserService/UpdateUser"))
            let described = try await run(["describe", "Say", "--address", address], port: server.port)
            #expect(described.stdout.contains("--shout"), "\(described.stdout)")
            let said = try await run(["call", "Say", "--text", "hello", "--shout", "true"], port: server.port)
            #expect(said.status == 0, "\(said.stderr)")
            #expect(said.json?["text"] == "HELLO")
            let full = try await run(["call", "echo.v1.Echo/Say", "--text", "hi"], port: server.port)
            #expect(full.json?["text"] == "hi")
            // Without --address, list shows the built-in schemas, which know nothing of echo.v1.
            #expect(!(try await run(["list"], port: server.port)).stdout.contains("echo.v1"))
        }

        // A server without reflection: the built-in schemas serve.
        try await TestServer.start { $0.reflection = false }.scoped { plain in
            let registered = try await run(["call", "RegisterUser", "--username", "noreflect", "--email", "n@example.com"], port: plain.port)
            #expect(registered.status == 0, "\(registered.stderr)")
        }
    }

    @Test("list and describe show the schema's methods and messages")
    func listAndDescribe() async throws {
        let listed = try await run(["list"], port: 1)
        #expect(listed.status == 0)
        for method in ["RegisterUser", "GetUser", "SearchUsers"] {
            #expect(listed.stdout.contains("user.v1.UserService/\(method)"))
        }
        let described = try await run(["describe", "SearchUsers"], port: 1)
        #expect(described.status == 0)
        #expect(described.stdout.contains("--page-token"))
        #expect(described.stdout.contains("SearchUsersResponse"))
        let message = try await run(["describe", "User"], port: 1)
        #expect(message.json?["required"] != nil)
        let unknown = try await run(["describe", "Nope"], port: 1)
        #expect(unknown.status != 0)
    }
}

/// `echo.v1.Echo/Say`: a service the CLI was not built with, known to it only through reflection.
struct EchoService: RPCService {
    struct Words: RPCMessage, Hashable {
        static let messageName = "Words"
        var text: String
        var shout: Bool?
        init(text: String, shout: Bool? = nil) {
            self.text = text
            self.shout = shout
        }
        init(fields: inout some MessageFieldReader) {
            text = fields.required("text", as: String.self)
            shout = fields.optional("shout", as: Bool.self)
        }
        func write(fields: inout MessageFieldWriter) {
            fields.field("text", text)
            fields.field("shout", shout)
        }
    }

    static let say = MethodDescriptor<Words, Words>(service: "echo.v1.Echo", name: "Say")

    var schema: ServiceSchema {
        ServiceSchema(
            embedded: #"""
                {"package":"echo.v1","service":"Echo","methods":[
                  {"name":"Say","full_name":"echo.v1.Echo/Say","request":"Words","response":"Words","description":"Says it back."}],
                 "messages":{"Words":{"type":"object","additionalProperties":false,"required":["text"],
                   "properties":{"text":{"type":"string","description":"What to say."},"shout":{"type":"boolean","description":"Upper-case it."}}}}}
                """#)
    }

    func registerMethods(with router: inout RPCRouter) {
        router.register(Self.say) { request, _ in
            .ok(Words(text: request.shout == true ? request.text.uppercased() : request.text))
        }
    }
}
