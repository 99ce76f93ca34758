/// The result of a piece of work: now, or later.
///
/// This is the one "now or later" type from the domain to the wire. A domain operation answers
/// `Answer<User, UserError>`; a method's handler answers `Answer<Response, RPCError>` (the server
/// calls it `ServerAnswer`), made from the operation's answer by ``map(_:)`` and ``mapError(_:)``
/// without a second type in between; and the connection writes it.
///
/// An answer given now is used at once, on the thread that asked — for the embedded store, the
/// connection's event loop, with no thread hop and no task. Work that must wait (a database on its
/// own threads) answers later: ``Pending/start`` hands the work over, and the function it returns
/// stops the work when the caller stops waiting (a deadline, a client's cancel, shutdown).
public enum Answer<Value: Sendable, Failure: Error>: Sendable {
    /// Answered.
    case now(Result<Value, Failure>)
    /// Answered later, from any thread.
    case later(Pending)

    /// Work that answers later.
    public struct Pending: Sendable {
        /// Receives the answer: called exactly once, from any thread.
        public typealias Completion = @Sendable (Result<Value, Failure>) -> Void
        /// Stops the work: called at most once, when the caller stops waiting before the answer came;
        /// the late answer is then dropped. It may block briefly (a database's cancel request), so
        /// it is not called on an event loop.
        public typealias Stop = @Sendable () -> Void

        /// Starts the work, which calls `complete` exactly once, and returns how to stop it.
        public let start: @Sendable (_ complete: @escaping Completion) -> Stop

        @inlinable
        public init(start: @escaping @Sendable (_ complete: @escaping Completion) -> Stop) {
            self.start = start
        }
    }

    /// Succeeded now.
    @inlinable
    public static func success(_ value: Value) -> Answer { .now(.success(value)) }

    /// Failed now.
    @inlinable
    public static func failure(_ error: Failure) -> Answer { .now(.failure(error)) }

    /// The same answer, its value transformed (now or when it comes).
    @inlinable
    public func map<Other: Sendable>(_ transform: @escaping @Sendable (Value) -> Other) -> Answer<Other, Failure> {
        switch self {
        case .now(let result):
            return .now(result.map(transform))
        case .later(let pending):
            return .later(.init { complete in pending.start { complete($0.map(transform)) } })
        }
    }

    /// The same answer, its failure transformed (now or when it comes).
    @inlinable
    public func mapError<Other: Error>(_ transform: @escaping @Sendable (Failure) -> Other) -> Answer<Value, Other> {
        switch self {
        case .now(let result):
            return .now(result.mapError(transform))
        case .later(let pending):
            return .later(.init { complete in pending.start { complete($0.mapError(transform)) } })
        }
    }
}
