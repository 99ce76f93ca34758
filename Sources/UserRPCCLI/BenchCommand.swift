import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import StrictJSON
import UserRPCClient
import UserV1

/// `user-rpc bench METHOD`: a load generator in the spirit of ghz, built on the client library, so it
/// measures what an embedding program gets.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a method and report throughput, latency percentiles and status codes.",
        discussion: """
            Closed loop by default: --concurrency calls are kept in flight over --connections connections.
            With --rate, calls start at a fixed rate (open loop) and latency is measured from each call's
            scheduled start, so queueing is not hidden. With --pipeline N, each of concurrency/N workers
            sends N calls together and waits for all of them (the client's callPipelined), as
            redis-benchmark -P does; each call's latency is still its own.

            Examples:
              user-rpc bench GetUser --prepare 1000 --concurrency 64 --connections 4 --duration 10s
              user-rpc bench GetUser --prepare 1000 --concurrency 64 --connections 4 --pipeline 16
              user-rpc bench RegisterUser --concurrency 16 --requests 20000
              user-rpc bench SearchUsers --username a --limit 10 --rate 2000 --duration 5s --format json
            """)

    @Argument(help: "The method (GetUser, RegisterUser, SearchUsers, or a full name).")
    var method: String

    @OptionGroup var serviceChoice: ServiceChoice

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.short, .long], help: "Calls in flight at once (closed loop), or the most in flight (open loop).")
    var concurrency: Int = 16

    @Option(help: "TCP connections to spread the calls over.")
    var connections: Int = 1

    @Option(help: "How long to run, e.g. 10s (default 10s unless --requests is given).")
    var duration: String?

    @Option(name: [.short, .long], help: "Stop after this many calls.")
    var requests: Int?

    @Option(help: "Start calls at this many per second (open loop).")
    var rate: Double?

    @Option(help: "Calls each worker sends together and waits for (closed loop); concurrency/pipeline workers.")
    var pipeline: Int = 1

    @Option(help: "Event loop threads that run the connections (default: one per core).")
    var threads: Int?

    @Option(help: "Register this many users first; GetUser then spreads over their ids.")
    var prepare: Int = 0

    @Option(help: "Per-call timeout, e.g. 5s.")
    var timeout: String = "10s"

    @Option(help: "The request payload as a JSON object (or - for standard input); or give field flags.")
    var json: String?

    @Option(help: "text (default) or json.")
    var format: OutputFormat = .text

    @Argument(parsing: .allUnrecognized, help: "Request fields as --field value, from the method's schema.")
    var fieldArguments: [String] = []

    enum OutputFormat: String, ExpressibleByArgument {
        case text, json
    }

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard (1...1024).contains(connections) else { throw ValidationError("--connections must be 1...1024") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        guard prepare >= 0 else { throw ValidationError("--prepare must not be negative") }
        guard pipeline >= 1 else { throw ValidationError("--pipeline must be at least 1") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1...256") }
        if pipeline > 1 {
            guard rate == nil else { throw ValidationError("--pipeline is for the closed loop; it cannot be combined with --rate") }
            guard concurrency % pipeline == 0 else { throw ValidationError("--concurrency must be a multiple of --pipeline") }
        }
    }

    func run() async throws {
        let (schema, schemaMethod) = try serviceChoice.method(named: method)
        guard let callTimeout = Duration(text: timeout) else { throw ValidationError("timeout '\(timeout)' is not a duration") }
        var runDuration: Duration?
        if let duration {
            guard let value = Duration(text: duration) else { throw ValidationError("duration '\(duration)' is not a duration") }
            runDuration = value
        } else if requests == nil {
            runDuration = .seconds(10)
        }

        let baseConfiguration = try connection.configuration()
        let eventLoops: any EventLoopGroup = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? MultiThreadedEventLoopGroup.singleton
        let clients = (0..<connections).map { _ in UserRPCClient(configuration: baseConfiguration, eventLoopGroup: eventLoops) }
        defer { for client in clients { Task { await client.close() } } }

        let given = try RequestPayload.read(json: json, fieldArguments: fieldArguments, fields: schema.fields(of: schemaMethod.request))
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let result: LoadResult
        switch schemaMethod.fullName {
        case UserServiceV1.registerUser.fullName:
            // Every registration needs a fresh username and email, unless a payload is given.
            let fixed = given.isEmpty ? nil : try Self.request(RegisterUserRequest.self, from: given)
            result = await run(UserServiceV1.registerUser, clients: clients, duration: runDuration, timeout: callTimeout) { ticket in
                fixed ?? RegisterUserRequest(username: "b\(runID)_\(ticket)", email: "b\(runID)_\(ticket)@bench.example")
            }
        case UserServiceV1.getUser.fullName:
            if prepare > 0 && given.isEmpty {
                let ids = try await Self.registerUsers(count: prepare, runID: runID, clients: clients, concurrency: concurrency)
                result = await run(UserServiceV1.getUser, clients: clients, duration: runDuration, timeout: callTimeout) { ticket in
                    GetUserRequest(id: ids[ticket % ids.count])
                }
            } else {
                let request = try Self.request(GetUserRequest.self, from: given)
                result = await run(UserServiceV1.getUser, clients: clients, duration: runDuration, timeout: callTimeout) { _ in request }
            }
        case UserServiceV2.getUser.fullName:
            if prepare > 0 && given.isEmpty {
                let ids = try await Self.registerUsers(count: prepare, runID: runID, clients: clients, concurrency: concurrency)
                result = await run(UserServiceV2.getUser, clients: clients, duration: runDuration, timeout: callTimeout) { ticket in
                    UserServiceV2.GetUserRequest(id: ids[ticket % ids.count])
                }
            } else {
                let request = try Self.request(UserServiceV2.GetUserRequest.self, from: given)
                result = await run(UserServiceV2.getUser, clients: clients, duration: runDuration, timeout: callTimeout) { _ in request }
            }
        case UserServiceV1.searchUsers.fullName:
            if prepare > 0 { _ = try await Self.registerUsers(count: prepare, runID: runID, clients: clients, concurrency: concurrency) }
            let request = try Self.request(SearchUsersRequest.self, from: given)
            result = await run(UserServiceV1.searchUsers, clients: clients, duration: runDuration, timeout: callTimeout) { _ in request }
        default:
            throw ValidationError("bench has no typed messages for \(schemaMethod.fullName)")
        }
        let report = BenchReport(
            method: schemaMethod.name, address: "\(baseConfiguration.host):\(baseConfiguration.port)", connections: connections,
            concurrency: concurrency, rate: rate, result: result)
        print(format == .json ? report.json : report.text)
    }

    /// Runs the load against `method`, with `request(ticket)` as each call's request.
    private func run<Request, Response>(
        _ method: MethodDescriptor<Request, Response>, clients: [UserRPCClient], duration: Duration?, timeout: Duration,
        request: @escaping @Sendable (Int) -> Request
    ) async -> LoadResult {
        let plan = LoadPlan(
            method: method, request: request, clients: clients, concurrency: concurrency, duration: duration, requests: requests, rate: rate,
            timeout: timeout, pipeline: pipeline)
        let showProgress = format == .text && isatty(STDERR_FILENO) == 1
        return await LoadRunner(plan: plan).run(progress: showProgress)
    }

    /// The request message a given payload describes (checked as strictly as the server would).
    private static func request<Request: RPCMessage>(_ type: Request.Type, from payload: JSONObject) throws -> Request {
        do {
            return try Request.decode(json: payload, unknownFields: .reject)
        } catch {
            throw ValidationError("the payload is not a \(Request.messageName): \(error)")
        }
    }

    private static func registerUsers(count: Int, runID: String, clients: [UserRPCClient], concurrency: Int) async throws -> [UUID] {
        try await withThrowingTaskGroup(of: [UUID].self) { group in
            let workers = min(concurrency, count)
            for worker in 0..<workers {
                group.addTask {
                    var ids: [UUID] = []
                    var index = worker
                    while index < count {
                        let user = try await clients[index % clients.count].registerUser(
                            username: "p\(runID)_\(index)", email: "p\(runID)_\(index)@bench.example")
                        ids.append(user.id)
                        index += workers
                    }
                    return ids
                }
            }
            return try await group.reduce(into: [UUID]()) { $0 += $1 }
        }
    }
}
