import HealthV1
import NIOConcurrencyHelpers
import UserRPCWire

/// A dependency that ``HealthService`` checks on every `Check` call.
public struct HealthProbe: Sendable {
    /// What the dependency is, as the check's detail names it (`PostgreSQL`, `Redis`).
    public var name: String
    /// Whether the server cannot serve without it: a failing required probe makes the answer
    /// NOT_SERVING; a failing optional one (a cache) only adds a detail to SERVING.
    public var isRequired: Bool
    /// Checks the dependency now: `nil` when healthy, otherwise what is wrong. Probes run
    /// concurrently; the task is cancelled when the call ends (its deadline, a cancel).
    public var check: @Sendable () async -> String?

    public init(name: String, isRequired: Bool, check: @escaping @Sendable () async -> String?) {
        self.name = name
        self.isRequired = isRequired
        self.check = check
    }
}

/// `health.v1.Health` (`Schemas/health.v1.json`): whether the server, or one service it hosts, can
/// serve calls now. Every ``UserRPCServer`` hosts one (pass your own to give it probes).
///
/// The answer is NOT_SERVING from the moment a graceful shutdown begins, and while a required
/// probe fails; UNKNOWN_SERVICE for a service the server does not host; otherwise SERVING, with a
/// detail naming any optional dependency that is down.
public final class HealthService: HealthServiceV1.ServiceProtocol {
    private struct State {
        var shuttingDown = false
        var hostedServices: Set<String> = []
        /// The watchers' wake-ups: each is told when a shutdown begins.
        var watchers: [UInt64: AsyncStream<Void>.Continuation] = [:]
        var nextWatcher: UInt64 = 0
    }

    private let probes: [HealthProbe]
    /// How often a `Watch` probes the dependencies again, to report a change.
    private let watchInterval: Duration
    /// Waits for the next probing of a watch (`Task.sleep`; a test's manual clock).
    private let sleep: @Sendable (Duration) async throws -> Void
    private let state = NIOLockedValueBox(State())
    private static let shuttingDown = HealthCheckResponse(status: .notServing, detail: "the server is shutting down")

    /// A health service that checks `probes` on every `Check`, and every `watchInterval` (default 1 s)
    /// while a `Watch` is open; `sleep` waits out the interval (a test passes a manual clock's).
    public init(
        probes: [HealthProbe] = [], watchInterval: Duration = .seconds(1),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.probes = probes
        self.watchInterval = watchInterval
        self.sleep = sleep
    }

    /// Whether a graceful shutdown has begun (every check then answers NOT_SERVING).
    public var isShuttingDown: Bool { state.withLockedValue { $0.shuttingDown } }

    /// From now on every check answers NOT_SERVING, and every watch reports it. Called by the server
    /// when a graceful shutdown begins.
    public func enterShutdown() {
        let watchers = state.withLockedValue { state in
            state.shuttingDown = true
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield() }
    }

    /// The full names of the services the server hosts: what a check of one service may name.
    func setHostedServices(_ names: some Sequence<String>) {
        state.withLockedValue { $0.hostedServices = Set(names) }
    }

    /// `Check`: NOT_SERVING from the start of a shutdown and while a required probe fails,
    /// UNKNOWN_SERVICE for a service not hosted, otherwise SERVING (with a detail for each failing
    /// optional probe).
    public func check(_ request: HealthCheckRequest, context: inout ServerContext) -> ServerAnswer<HealthCheckResponse> {
        if let known = statusWithoutProbing(request) { return .ok(known) }
        return .task { await self.probedStatus() }
    }

    /// `Watch`: the status `Check` would answer, at once, then each time it changes — the probes run
    /// again every `watchInterval`, and a shutdown is reported as it begins. The stream ends (OK)
    /// once it has reported the shutdown, after which nothing changes; otherwise it lasts until the
    /// client cancels it, its deadline passes or the connection ends.
    public func watch(
        _ request: HealthCheckRequest, context: ServerContext, writer: ServerStreamWriter<HealthCheckResponse>
    ) async throws(RPCError) {
        let (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let watcher = state.withLockedValue { state in
            state.nextWatcher += 1
            state.watchers[state.nextWatcher] = wakeUp
            return state.nextWatcher
        }
        let (interval, sleep) = (watchInterval, self.sleep)
        // The probes are the only other source of change: without them, only a shutdown wakes the watch.
        let ticker =
            probes.isEmpty
            ? nil
            : Task {
                while (try? await sleep(interval)) != nil, !Task.isCancelled { wakeUp.yield() }
            }
        defer {
            ticker?.cancel()
            wakeUp.finish()
            _ = state.withLockedValue { $0.watchers.removeValue(forKey: watcher) }
        }
        var last: HealthCheckResponse?
        var wakeUpsIterator = wakeUps.makeAsyncIterator()
        repeat {
            let current: HealthCheckResponse
            if let known = statusWithoutProbing(request) { current = known } else { current = await probedStatus() }
            if current != last {
                try await writer.write(current)
                last = current
            }
            // Nothing changes after a shutdown began: the watch ends once it has reported it (a
            // watch of a service not hosted ends too, still UNKNOWN_SERVICE).
            if isShuttingDown { return }
        } while await wakeUpsIterator.next() != nil && !Task.isCancelled
    }

    /// The status when it needs no probe: UNKNOWN_SERVICE, shutting down, or SERVING with no probes.
    private func statusWithoutProbing(_ request: HealthCheckRequest) -> HealthCheckResponse? {
        let (shuttingDown, hosted) = state.withLockedValue { ($0.shuttingDown, $0.hostedServices) }
        if let service = request.service, !service.isEmpty, !hosted.contains(service) {
            return HealthCheckResponse(status: .unknownService, detail: "this server does not host '\(RPCError.echo(service))'")
        }
        if shuttingDown { return Self.shuttingDown }
        return probes.isEmpty ? HealthCheckResponse(status: .serving) : nil
    }

    /// The status from the probes, run concurrently now.
    private func probedStatus() async -> HealthCheckResponse {
        let probes = self.probes
        let problems = await withTaskGroup(of: (Int, String?).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { (index, await probe.check()) }
            }
            var problems: [(Int, String)] = []
            for await (index, problem) in group {
                if let problem { problems.append((index, problem)) }
            }
            return problems.sorted { $0.0 < $1.0 }.map { (probe: probes[$0.0], problem: $0.1) }
        }
        // A shutdown that began while the probes ran wins.
        if isShuttingDown { return Self.shuttingDown }
        let detail = problems.isEmpty ? nil : problems.map { "\($0.probe.name): \($0.problem)" }.joined(separator: "; ")
        let serving = !problems.contains { $0.probe.isRequired }
        return HealthCheckResponse(status: serving ? .serving : .notServing, detail: detail)
    }
}
