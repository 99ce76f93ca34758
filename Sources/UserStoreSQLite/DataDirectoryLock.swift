import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a data directory, held for as long as the store is open: a second server on
/// the same directory fails at start-up, saying which process holds it. (SQLite's own locks would let
/// two processes share the database; two servers each with their own in-memory index must not.)
final class DataDirectoryLock: Sendable {
    /// The lock file's descriptor while the lock is held.
    private let descriptor: NIOLockedValueBox<Int32?>

    /// Takes the lock on `directory`, or throws saying why not.
    init(directory: String) throws(SQLiteStoreError) {
        let path = directory + "/lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .dataDirectory("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &holder, holder.count, 0)
            let pid = count > 0 ? String(decoding: holder[..<count], as: UTF8.self).trimmingWhitespace : "?"
            close(descriptor)
            throw .dataDirectory("the data directory \(directory) is in use by another user-rpc-server (pid \(pid))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// Releases the lock (at most once; also done when the lock goes away).
    func release() {
        descriptor.withLockedValue { held in
            guard let descriptor = held else { return }
            flock(descriptor, LOCK_UN)
            close(descriptor)
            held = nil
        }
    }

    deinit {
        release()
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.filter { !$0.isWhitespace })
    }
}
