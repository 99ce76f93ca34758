import NIOCore

/// One timer for the deadlines of many calls on a connection: it is set for the earliest deadline
/// and moved only when an earlier one comes. Calls that finish leave it alone; when it fires, the
/// owner ends the calls that are due and sets it for the next deadline. A timer per call would cost
/// a schedule and a cancel on every call. Used by both ends' connection handlers, on their event loop.
public struct EarliestDeadlineTimer {
    private var scheduled: (at: NIODeadline, task: Scheduled<Void>)?

    /// A timer that is not set.
    public init() {}

    /// Makes sure the timer fires no later than `deadline`: when it is not set, or set for later,
    /// `schedule` is called to schedule the firing at `deadline` (and a later one is cancelled).
    public mutating func arm(at deadline: NIODeadline, schedule: (NIODeadline) -> Scheduled<Void>) {
        if let scheduled {
            guard deadline < scheduled.at else { return }
            scheduled.task.cancel()
        }
        scheduled = (deadline, schedule(deadline))
    }

    /// The timer fired (at `now`, by the event loop's clock): it is no longer set. The sweep sorts the
    /// calls' deadlines into those due now and the earliest one still ahead, for which the owner sets
    /// the timer again.
    public mutating func fired(now: NIODeadline) -> DeadlineSweep {
        scheduled = nil
        return DeadlineSweep(now: now)
    }

    /// Sorts deadlines into those due at `now` and the earliest one after it (``next``).
    public struct DeadlineSweep {
        /// The time the timer fired: deadlines at or before it are due.
        public let now: NIODeadline
        /// The earliest deadline seen that is not yet due: where to set the timer again; `nil` when none.
        public private(set) var next: NIODeadline?

        /// Whether `deadline` has passed; if not, it counts towards ``next``.
        public mutating func isDue(_ deadline: NIODeadline) -> Bool {
            if deadline <= now { return true }
            next = min(next ?? deadline, deadline)
            return false
        }
    }

    /// Cancels the timer, if set.
    public mutating func cancel() {
        scheduled?.task.cancel()
        scheduled = nil
    }
}
