import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Connection failures as a person would write them (`connection refused`), rather than NIO's
/// error values.
enum ConnectionErrorText {
    /// Why connecting failed, in a few words.
    static func connectFailure(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let failure = error.connectionErrors.first { return connectFailure(failure.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name does not resolve" }
            return "no address to connect to"
        }
        if let error = error as? IOError { return errnoText(error.errnoCode) }
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return "no answer within \(amount.nanoseconds / 1_000_000) ms"
        }
        if error is NIOSSLError || error is BoringSSLError { return tlsFailure(error) }
        return "\(error)"
    }

    /// A failure on an open connection.
    static func connectionFailure(_ error: any Error) -> String {
        if error is NIOSSLError || error is BoringSSLError { return tlsFailure(error) }
        if let error = error as? IOError { return "connection failed: " + errnoText(error.errnoCode) }
        return "connection failed: \(error)"
    }

    /// A TLS handshake that failed, with the likely cause: a server that does not serve TLS.
    static func tlsFailure(_ error: any Error) -> String {
        "TLS handshake failed (\(error)); if the server serves plaintext, connect without TLS"
    }

    /// `strerror`, lower-cased as in a sentence: `connection refused`.
    static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        let message = String(cString: text)
        guard let first = message.first else { return "error \(code)" }
        return first.lowercased() + message.dropFirst()
    }
}
