import Foundation
import Histogram
import Synchronization
import UserRPCClient
import UserRPCWire

struct LoadPlan<Request: RPCMessage, Response: RPCMessage>: Sendable {
    /// Called with the typed API, as an embedding program would: each request is encoded from its
    /// message, and each response decoded into its message (`User`, `SearchUsersResponse`).
    var method: MethodDescriptor<Request, Response>
    /// The request of each call, by its ticket number.
    var request: @Sendable (Int) -> Request
    var clients: [UserRPCClient]
    var concurrency: Int
    var duration: Duration?
    var requests: Int?
    /// Calls per second for an open loop; `nil` for a closed loop.
    var rate: Double?
    var timeout: Duration
    /// Calls each worker sends together (`callPipelined`); 1 sends them one by one.
    var pipeline: Int = 1
}

struct LoadResult: Sendable {
    var calls: Int
    var elapsed: Duration
    /// Latency in nanoseconds.
    var histogram: Histogram<UInt64>
    var statusCounts: [String: Int]
    /// CPU time this process used during the run (user + system), in seconds.
    var cpuSeconds: Double
}

/// Each status code's position in `RPCStatus.Code.allCases`.
private let statusCodeIndex = Dictionary(uniqueKeysWithValues: RPCStatus.Code.allCases.enumerated().map { ($1, $0) })

/// Runs the calls of a plan from `concurrency` workers and gathers their measurements.
struct LoadRunner<Request: RPCMessage, Response: RPCMessage> {
    let plan: LoadPlan<Request, Response>

    /// Shared by the workers: the next ticket to take, and calls completed (for the progress line).
    private final class Counters: Sendable {
        let tickets = Atomic<Int>(0)
        let completed = Atomic<Int>(0)
    }

    private struct WorkerResult: Sendable {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        /// Calls by status code, in the order of `RPCStatus.Code.allCases`.
        var statusCounts = [Int](repeating: 0, count: RPCStatus.Code.allCases.count)
        var calls = 0

        /// Counts one finished call: its latency, and its status (`OK` when `error` is `nil`).
        mutating func record(latency: Duration, error: UserRPCError?) {
            _ = histogram.record(UInt64(max(0, RunClock.nanoseconds(latency))))
            statusCounts[error.map { statusCodeIndex[$0.code]! } ?? 0] += 1
            calls += 1
        }

        /// Counts the answers of calls sent together at `sentAt`. (Read in place: copying an answer
        /// would retain and release each string of its response.)
        mutating func record(_ answers: [UserRPCClient.PipelinedAnswer<Response>], sentAt: ContinuousClock.Instant) {
            answers.withUnsafeBufferPointer { answers in
                for index in answers.indices {
                    let error: UserRPCError?
                    switch answers[index].result {
                    case .success: error = nil
                    case .failure(let failure): error = failure
                    }
                    record(latency: answers[index].answeredAt - sentAt, error: error)
                }
            }
        }
    }

    func run(progress: Bool) async -> LoadResult {
        let counters = Counters()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = plan.duration.map { start + $0 }
        let cpuBefore = RunClock.cpuSeconds()

        let progressTask: Task<Void, Never>? =
            progress
            ? Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let done = counters.completed.load(ordering: .relaxed)
                    let seconds = RunClock.seconds(clock.now - start)
                    let line = String(format: "\r[%5.1fs] %d calls, %.0f calls/s   ", seconds, done, Double(done) / max(seconds, 0.001))
                    FileHandle.standardError.write(Data(line.utf8))
                }
            } : nil

        let plan = self.plan
        let workers = await withTaskGroup(of: WorkerResult.self) { group in
            if plan.pipeline > 1 {
                // Closed loop, `pipeline` calls sent together by each of concurrency / pipeline workers.
                for worker in 0..<max(1, plan.concurrency / plan.pipeline) {
                    let client = plan.clients[worker % plan.clients.count]
                    group.addTask(executorPreference: client.taskExecutor) {
                        await Self.runPipelinedWorker(plan: plan, client: client, counters: counters, clock: clock, deadline: deadline)
                    }
                }
                return await group.reduce(into: [WorkerResult]()) { $0.append($1) }
            }
            for worker in 0..<plan.concurrency {
                let client = plan.clients[worker % plan.clients.count]
                // Each worker runs on its client's event loop: no thread hop between a call and its I/O.
                group.addTask(executorPreference: client.taskExecutor) {
                    var result = WorkerResult()
                    let options = UserRPCClient.CallOptions(timeout: plan.timeout)
                    while true {
                        let ticket = counters.tickets.wrappingAdd(1, ordering: .relaxed).oldValue
                        if let limit = plan.requests, ticket >= limit { break }
                        var scheduled = clock.now
                        if let rate = plan.rate {
                            scheduled = start + .nanoseconds(Int64(Double(ticket) * 1e9 / rate))
                            if let deadline, scheduled >= deadline { break }
                            if scheduled > clock.now { try? await Task.sleep(until: scheduled, clock: clock) }
                        } else if let deadline, scheduled >= deadline {
                            break
                        }
                        let error: UserRPCError?
                        do throws(UserRPCError) {
                            _ = try await client.call(plan.method, plan.request(ticket), options: options)
                            error = nil
                        } catch let failure {
                            error = failure
                        }
                        result.record(latency: clock.now - scheduled, error: error)
                        counters.completed.wrappingAdd(1, ordering: .relaxed)
                    }
                    return result
                }
            }
            return await group.reduce(into: [WorkerResult]()) { $0.append($1) }
        }
        let elapsed = clock.now - start
        progressTask?.cancel()
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }

        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        var statusCounts: [String: Int] = [:]
        var calls = 0
        for worker in workers {
            histogram.add(worker.histogram)
            for (code, count) in zip(RPCStatus.Code.allCases, worker.statusCounts) where count > 0 {
                statusCounts[code.rawValue, default: 0] += count
            }
            calls += worker.calls
        }
        return LoadResult(
            calls: calls, elapsed: elapsed, histogram: histogram, statusCounts: statusCounts, cpuSeconds: RunClock.cpuSeconds() - cpuBefore)
    }

    private static func runPipelinedWorker(
        plan: LoadPlan<Request, Response>, client: UserRPCClient, counters: Counters, clock: ContinuousClock, deadline: ContinuousClock.Instant?
    ) async -> WorkerResult {
        var result = WorkerResult()
        let options = UserRPCClient.CallOptions(timeout: plan.timeout)
        while true {
            if let deadline, clock.now >= deadline { break }
            let first = counters.tickets.wrappingAdd(plan.pipeline, ordering: .relaxed).oldValue
            let end = plan.requests.map { min($0, first + plan.pipeline) } ?? first + plan.pipeline
            guard first < end else { break }
            let requests = (first..<end).map(plan.request)
            let sent = clock.now
            result.record(await client.callPipelined(plan.method, requests, options: options), sentAt: sent)
            counters.completed.wrappingAdd(end - first, ordering: .relaxed)
        }
        return result
    }
}

/// Time and CPU measurements of a run.
enum RunClock {
    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.timeAmount.nanoseconds
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(nanoseconds(duration)) / 1e9
    }

    /// User plus system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
