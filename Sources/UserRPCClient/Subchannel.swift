import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The client's link to one server (one ``UserRPCClient/Endpoint``): its connection, opened on
/// demand and replaced when the server closes it, and whether the server is in rotation.
///
/// A server leaves rotation when a connection to it fails (for the reconnect backoff, longer after
/// each consecutive failure) or when it sends `goaway` (for the backoff's first step: it is
/// draining, likely restarting); it comes back when that time is over and a connection succeeds.
final class Subchannel: Sendable {
    let endpoint: UserRPCClient.Endpoint
    private let state = NIOLockedValueBox(State())
    private let backoff: UserRPCClient.Backoff
    /// The client's logger, with this server's address as `server`.
    private let logger: Logger

    private struct State {
        var connection = ConnectionState.idle
        /// Consecutive failed connections.
        var failures = 0
        /// Out of rotation until then.
        var ejectedUntil: NIODeadline?
    }

    enum ConnectionState {
        case idle
        case connecting(EventLoopFuture<UserRPCClient.Connection>)
        case ready(UserRPCClient.Connection)
        case closed
    }

    /// Why a connection stopped taking calls.
    enum RetireReason {
        /// The server sent `goaway`.
        case goaway
        /// It failed or was closed.
        case closed
    }

    init(endpoint: UserRPCClient.Endpoint, backoff: UserRPCClient.Backoff, logger: Logger) {
        self.endpoint = endpoint
        self.backoff = backoff
        self.logger = logger
    }

    /// When it comes back into rotation; `nil` when it is in rotation at `now`.
    func ejectedUntil(now: NIODeadline) -> NIODeadline? {
        state.withLockedValue { state in
            guard let until = state.ejectedUntil, until > now else { return nil }
            return until
        }
    }

    /// Its open connection, or a new one (`connect` opens it; concurrent callers share one attempt).
    nonisolated(nonsending) func connection(
        _ connect: @Sendable () -> EventLoopFuture<UserRPCClient.Connection>
    ) async throws(UserRPCError) -> UserRPCClient.Connection {
        enum Step {
            case use(UserRPCClient.Connection)
            case wait(EventLoopFuture<UserRPCClient.Connection>)
            case closed
        }
        let step: Step = state.withLockedValue { state in
            if case .ready(let connection) = state.connection, !connection.channel.isActive { state.connection = .idle }
            switch state.connection {
            case .ready(let connection): return .use(connection)
            case .connecting(let future): return .wait(future)
            case .closed: return .closed
            case .idle:
                let future = connect()
                state.connection = .connecting(future)
                return .wait(future)
            }
        }
        switch step {
        case .use(let connection):
            return connection
        case .closed:
            throw UserRPCError(code: .unavailable, message: "client is closed")
        case .wait(let future):
            do {
                let connection = try await future.get()
                let made = state.withLockedValue { state -> Bool in
                    guard case .connecting(let pending) = state.connection, pending === future else { return false }
                    state.connection = .ready(connection)
                    state.failures = 0
                    state.ejectedUntil = nil
                    return true
                }
                if made { logger.debug("connected") }
                return connection
            } catch {
                let backoff = self.backoff
                let reason = ConnectionErrorText.connectFailure(error)
                let ejected = state.withLockedValue { state -> Duration? in
                    guard case .connecting(let pending) = state.connection, pending === future else { return nil }
                    state.connection = .idle
                    state.failures += 1
                    let delay = backoff.delay(afterFailures: state.failures)
                    state.ejectedUntil = .now() + delay.timeAmount
                    return delay
                }
                if let ejected {
                    logger.warning("cannot connect: out of rotation for a while", metadata: ["error": "\(reason)", "out_for": "\(ejected)"])
                }
                throw UserRPCError(code: .unavailable, message: "cannot connect to \(endpoint): \(reason)")
            }
        }
    }

    /// The connection on `channelID` takes no more calls: the next call opens a new one (after a
    /// `goaway`, once this server is back in rotation).
    func retire(channelID: ObjectIdentifier, reason: RetireReason) {
        let backoff = self.backoff
        let retired = state.withLockedValue { state -> Bool in
            guard case .ready(let connection) = state.connection, ObjectIdentifier(connection.channel) == channelID else { return false }
            state.connection = .idle
            if reason == .goaway { state.ejectedUntil = .now() + backoff.initial.timeAmount }
            return true
        }
        guard retired else { return }
        switch reason {
        case .goaway: logger.info("the server is going away (goaway): new calls go to the next server in rotation")
        case .closed: logger.debug("connection closed")
        }
    }

    /// Closes its connection; it takes no more calls.
    func close() async {
        let previous = state.withLockedValue { state in
            defer { state.connection = .closed }
            return state.connection
        }
        switch previous {
        case .ready(let connection):
            // What calls wrote last (a stream's cancel) goes out before the close.
            connection.withHandler { $0.flushPending() }
            try? await connection.channel.close()
        case .connecting(let future): try? await future.get().channel.close()
        case .idle, .closed: break
        }
    }

    /// Closes its connection without waiting (the client is going away).
    func closeNow() {
        if case .ready(let connection) = state.withLockedValue({ $0.connection }) {
            connection.channel.close(promise: nil)
        }
    }
}

/// The retry budget shared by a client's calls (gRPC's retry throttling): each failed attempt
/// takes a token, each success gives back a fraction of one; retries are allowed only while more
/// than half the tokens are left. Kept in thousandths of a token in one atomic integer: a success
/// when the budget is full (the usual case) costs one load.
final class RetryBudget: Sendable {
    private let milliTokens: Synchronization.Atomic<Int>
    private let maximum: Int
    private let refill: Int

    init(maximum: Double, refill: Double) {
        self.maximum = Int((maximum * 1000).rounded())
        self.refill = Int((refill * 1000).rounded())
        self.milliTokens = Synchronization.Atomic(self.maximum)
    }

    /// `count` attempts succeeded.
    func recordSuccesses(_ count: Int) {
        var current = milliTokens.load(ordering: .relaxed)
        while current < maximum {
            let next = min(maximum, current + refill * count)
            let (exchanged, original) = milliTokens.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// An attempt failed `UNAVAILABLE`.
    func recordFailure() {
        var current = milliTokens.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = milliTokens.compareExchange(expected: current, desired: max(0, current - 1000), ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Whether a retry may be made now.
    var allowsRetry: Bool {
        milliTokens.load(ordering: .relaxed) * 2 > maximum
    }
}
