import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One child process starts at a time in this test process (see ``launchingChildren(_:)``).
private let childLaunchLock = NSLock()

/// Runs `body`, which starts child processes (`Process.run()`, `system`), after marking every open
/// descriptor close-on-exec, with no other launch in this process at the same time.
///
/// NIO's sockets are not close-on-exec, so without the marking a child (a CLI run, `openssl`, a
/// script, a daemon it starts) would keep the listening sockets of test servers open: a server that
/// a test has stopped would still accept connections into a backlog nobody serves, and "connection
/// refused" would turn into a hang. The lock matters as much: Foundation's `Process.run()` creates a
/// socket pair whose end in the child tells it when the child exits. Marked close-on-exec by a
/// launch on another thread before that child starts, it closes at exec: Foundation then takes the
/// live child for exited and blocks its process monitor in `waitpid` until the child really exits,
/// so no other child's exit is seen meanwhile (a test run hung that way). Inherited by another
/// launch's child, it makes an exit go unseen for as long as that child lives.
public func launchingChildren<T>(_ body: () throws -> T) rethrows -> T {
    childLaunchLock.lock()
    defer { childLaunchLock.unlock() }
    markDescriptorsCloseOnExec()
    return try body()
}

private func markDescriptorsCloseOnExec() {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
    for entry in entries {
        guard let fd = Int32(entry), fd > 2 else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}
