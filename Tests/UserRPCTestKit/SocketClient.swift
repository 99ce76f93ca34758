import Foundation
import StrictJSON

#if canImport(Glibc)
    import Glibc
#endif

/// A client on a plain blocking socket, for tests that must control exactly how (and how fast) a
/// client reads: a small receive buffer, reads of a few bytes at a time, and whether the connection
/// ended cleanly or was reset. Every wait is bounded.
public final class SocketClient: @unchecked Sendable {
    // @unchecked: used by one test at a time, from one thread at a time (through `blocking`).
    private let fd: Int32
    private var received: [UInt8] = []
    /// Frames read so far by ``readFrames(for:chunk:afterEachRead:)``.
    public private(set) var framesSoFar = 0

    /// How a read loop ended.
    public enum End: Sendable, Equatable {
        /// The server closed its side after everything it sent (a FIN).
        case closed
        /// The connection was reset (ECONNRESET): data the client had not read may have been lost.
        case reset
        /// The bound ran out first.
        case timedOut
    }

    /// Connects to `host:port` (an IPv4 address, `127.0.0.1` by default); `receiveBuffer` (bytes)
    /// makes a client whose socket holds little.
    public init(host: String = "127.0.0.1", port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketClientError(message: "socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw SocketClientError(message: "connect: \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends all of `bytes` (blocking).
    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw SocketClientError(message: "send: \(errno)") }
            sent += n
        }
    }

    /// Sends each JSON text as one frame, in one write.
    public func send(frames: [String]) throws {
        try send(frames.flatMap { framed(Array($0.utf8)) })
    }

    /// Shuts the client's sending side: the server sees the end of the requests.
    public func shutdownSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads frames until the server ends the connection, `count` frames have arrived (when given),
    /// or `seconds` pass, at most `chunk` bytes at a time, calling `afterEachRead` between reads (a
    /// slow reader sleeps there).
    public func readFrames(
        for seconds: Double, count: Int? = nil, chunk: Int = 65_536, afterEachRead: () -> Void = {}
    ) -> (frames: [JSONObject], end: End) {
        var frames: [JSONObject] = []
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var buffer = [UInt8](repeating: 0, count: chunk)
        while ContinuousClock.now < deadline {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, chunk, 0) }
            if n == 0 { return (frames + takeFrames(), .closed) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return (frames + takeFrames(), errno == ECONNRESET ? .reset : .closed)
            }
            received += buffer[..<n]
            frames += takeFrames()
            framesSoFar = frames.count
            if let count, frames.count >= count { return (frames, .timedOut) }
            afterEachRead()
        }
        return (frames, .timedOut)
    }

    /// Reads every byte until the server closes the connection (or `seconds` pass): for a protocol
    /// that ends its answer by closing (the metrics endpoint's HTTP).
    public func readToEnd(for seconds: Double) throws -> [UInt8] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return received }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SocketClientError(message: "recv: \(errno)")
            }
            received += buffer[..<n]
        }
        throw SocketClientError(message: "the server did not close the connection within \(seconds) s")
    }

    private func takeFrames() -> [JSONObject] {
        var frames: [JSONObject] = []
        var offset = 0
        while received.count - offset >= 4 {
            let length = Int(received[offset]) << 24 | Int(received[offset + 1]) << 16 | Int(received[offset + 2]) << 8 | Int(received[offset + 3])
            guard received.count - offset - 4 >= length else { break }
            if let object = try? JSONParser().parse(Array(received[(offset + 4)..<(offset + 4 + length)])).objectValue {
                frames.append(object)
            }
            offset += 4 + length
        }
        received.removeFirst(offset)
        return frames
    }
}

public struct SocketClientError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
