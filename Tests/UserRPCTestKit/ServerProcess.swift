import Foundation

/// The real `user-rpc-server` binary as a child process: started with arguments, its port read from
/// its start-up line, its output (standard error and output together) collected (and always drained, so it never blocks on a
/// full pipe), stopped by a signal.
///
/// `@unchecked Sendable`: the collected log is guarded by a lock; `Process` is used only to signal
/// and wait.
public final class ServerProcess: @unchecked Sendable {
    /// The binary beside the test bundle (SwiftPM builds all products into one directory).
    public static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("user-rpc-server")
    }

    /// The environment without storage URLs: the embedded default unless the arguments say otherwise.
    public static var embeddedEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" && $0.key != "REDIS_URL" && $0.key != "USER_RPC_DATA_DIR" }
    }

    public let process: Process
    private let lock = NSLock()
    /// Signalled once standard error has reached its end.
    private let outputEnded = DispatchSemaphore(value: 0)
    /// Signalled once the process has exited (its termination handler), so waiting for it does not
    /// spin `Process.waitUntilExit()`'s run loop (two such waits took two cores under TSan).
    private let exited = DispatchSemaphore(value: 0)
    private var collected = ""
    private var ended = false
    private var portWaiter: CheckedContinuation<Int, any Error>?
    private var foundPort: Int?
    private var didTimeOut = false

    private init(process: Process) {
        self.process = process
    }

    public var pid: Int32 { process.processIdentifier }

    /// Everything the server wrote to standard error so far.
    public var log: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    /// Starts the server with `arguments` (add `--port 0`) and returns once it listens, with its port.
    /// Throws ``ServerExited`` if it exits first (with what it said), ``TimeoutError`` after `timeout`.
    public static func start(
        _ arguments: [String], environment: [String: String] = embeddedEnvironment, timeout: Double = 30
    ) async throws -> (server: ServerProcess, port: Int) {
        let server = try launch(arguments, environment: environment)
        // Past the bound, the server is killed: its output ends, and the wait for the port fails.
        let watchdog = server.killAfter(seconds: timeout)
        defer { watchdog.cancel() }
        do {
            let port = try await server.port()
            return (server, port)
        } catch {
            server.killIfRunning()
            throw server.timedOut ? TimeoutError(seconds: timeout) : error
        }
    }

    /// Runs the binary with `arguments` until it exits (a command such as `migrate`, or a start-up
    /// that is expected to fail); its exit status and standard error.
    public static func run(
        _ arguments: [String], environment: [String: String] = embeddedEnvironment, timeout: Double = 60
    ) async throws -> (status: Int32, log: String) {
        let server = try launch(arguments, environment: environment)
        let status = try await server.waitForExit(timeout: timeout)
        return (status, server.log)
    }

    private static func launch(_ arguments: [String], environment: [String: String]) throws -> ServerProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = environment
        // Standard output (what a command such as `migrate-to` prints) joins standard error.
        let stderr = Pipe()
        process.standardOutput = stderr
        process.standardError = stderr
        let server = ServerProcess(process: process)
        let exited = server.exited
        process.terminationHandler = { _ in exited.signal() }
        try launchingChildren { try process.run() }
        let handle = stderr.fileHandleForReading
        let reader = Thread { server.drain(handle) }
        reader.name = "server-stderr"
        reader.start()
        return server
    }

    /// Reads standard error to its end, on its own thread, resolving the port when it appears.
    private func drain(_ handle: FileHandle) {
        while true {
            let data = handle.availableData
            lock.lock()
            if data.isEmpty {
                ended = true
                let waiter = foundPort == nil ? portWaiter : nil
                portWaiter = nil
                let log = collected
                lock.unlock()
                waiter?.resume(throwing: ServerExited(log: log))
                outputEnded.signal()
                return
            }
            collected += String(decoding: data, as: UTF8.self)
            var resumed: (CheckedContinuation<Int, any Error>, Int)?
            if foundPort == nil, let port = Self.listeningPort(in: collected) {
                foundPort = port
                resumed = portWaiter.map { ($0, port) }
                portWaiter = nil
            }
            lock.unlock()
            if let (waiter, port) = resumed { waiter.resume(returning: port) }
        }
    }

    private func port() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let foundPort {
                lock.unlock()
                continuation.resume(returning: foundPort)
            } else if ended {
                let log = collected
                lock.unlock()
                continuation.resume(throwing: ServerExited(log: log))
            } else {
                portWaiter = continuation
                lock.unlock()
            }
        }
    }

    /// The port of the metrics endpoint (`--metrics-port`), from the start-up log; it is logged
    /// before the RPC port, so it is known once ``start(_:environment:timeout:)`` has returned.
    public var metricsPort: Int? {
        guard let range = log.range(of: #"endpoint=\[IPv4\]127(\.\d+){3}/127(\.\d+){3}:\d+"#, options: .regularExpression) else { return nil }
        return Int(log[range].split(separator: ":").last!)
    }

    static func listeningPort(in log: String) -> Int? {
        // `address=[IPv4]…` in text logs, `"address":"[IPv4]…"` in JSON lines; any loopback address.
        guard let range = log.range(of: #"\baddress(=|":")\[IPv4\]127(\.\d+){3}/127(\.\d+){3}:(\d+)"#, options: .regularExpression) else {
            return nil
        }
        let match = log[range]
        return Int(match[match.index(after: match.lastIndex(of: ":")!)...])
    }

    /// Sends `signal` to the server.
    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits until the server has exited and all it wrote has been read into ``log``; its exit status
    /// (or, killed by a signal, the signal number). Past `timeout` the server is killed and
    /// ``TimeoutError`` thrown.
    @discardableResult
    public func waitForExit(timeout: Double = 30) async throws -> Int32 {
        let process = process
        let watchdog = killAfter(seconds: timeout)
        defer { watchdog.cancel() }
        let outputEnded = outputEnded
        let exited = exited
        let status = try await blocking {
            exited.wait()
            exited.signal()  // for the next waiter
            outputEnded.wait()
            outputEnded.signal()  // for the next waiter
            return process.terminationStatus
        }
        if timedOut { throw TimeoutError(seconds: timeout) }
        return status
    }

    /// Kills the server after `seconds` unless cancelled first: the bound on every wait, since a
    /// blocked wait cannot be cancelled, but it ends when the process does.
    private func killAfter(seconds: Double) -> Task<Void, Never> {
        Task {
            guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
            self.markTimedOut()
            self.killIfRunning()
        }
    }

    private func markTimedOut() {
        lock.lock()
        didTimeOut = true
        lock.unlock()
    }

    private var timedOut: Bool {
        lock.lock()
        defer { lock.unlock() }
        return didTimeOut
    }

    /// Kills the server if it still runs (for `defer`).
    public func killIfRunning() {
        if process.isRunning { signal(SIGKILL) }
    }
}

/// The server exited before it listened.
public struct ServerExited: Error, CustomStringConvertible {
    public let log: String
    public var description: String { "the server exited before it listened: \(log)" }
}
