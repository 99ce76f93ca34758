import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Marks every open descriptor of this process (beyond stdin, stdout and stderr) close-on-exec.
///
/// Call it right before starting a child process. NIO's sockets are not close-on-exec, so without
/// this a child (a CLI run, `openssl`, a script) would keep the listening sockets of test servers
/// open: a server that a test has stopped would still accept connections into a backlog nobody
/// serves, and "connection refused" would turn into a hang.
public func markDescriptorsCloseOnExec() {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
    for entry in entries {
        guard let fd = Int32(entry), fd > 2 else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}
