import NIOCore

/// Runs tasks on one NIO event loop: the client's connection's loop.
///
/// A task that prefers this executor (`withTaskExecutorPreference(client.taskExecutor) { … }`, or
/// `group.addTask(executorPreference: client.taskExecutor)`) sends its calls and is resumed with their
/// answers on the thread that does the connection's I/O, so a call costs no thread hop.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The event loop that runs the tasks: the one of the client's connection.
    public let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on ``eventLoop``.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
