import Synchronization
import UserRPCWire

/// Gives every call a request id: the client's `x-request-id` metadata when it is usable (1 to 128
/// printable ASCII characters, no spaces, no `"` or `\`), otherwise one generated here (unique in
/// this process, random across processes: `k3x9q2-1z`, short enough to need no allocation).
/// The id is returned in the response's `x-request-id` metadata, OK or not, and is carried by
/// every log line about the call, with the client's W3C `traceparent` when it sends a well-formed one.
///
/// The server runs it first, before any other interceptor, so refused calls have an id too.
public final class RequestIDInterceptor: ServerInterceptor {
    /// Random per process (six base-36 digits), so ids from several servers do not collide.
    private let prefix: UInt64
    private let counter = Atomic<UInt64>(0)

    public init() {
        prefix = UInt64.random(in: 0..<2_176_782_336)  // 36^6
    }

    public func willRun(_ context: inout ServerContext) -> RPCError? {
        // Most calls carry no metadata: then there is nothing to look up (a lookup hashes its key).
        if !context.requestMetadata.isEmpty {
            if let given = context.requestMetadata["x-request-id"], Self.isUsable(given) {
                context.requestIDValue = RequestID(given: given)
            }
            if let traceparent = context.requestMetadata["traceparent"], Self.isTraceparent(traceparent) {
                context.traceparent = traceparent
            }
        }
        if context.requestIDValue == nil {
            context.requestIDValue = RequestID(prefix: prefix, sequence: counter.wrappingAdd(1, ordering: .relaxed).newValue)
        }
        return nil  // the id is returned as the response's `x-request-id` metadata
    }

    /// 1 to 128 bytes of printable ASCII without spaces, `"` or `\` (so it is written as it is).
    static func isUsable(_ id: String) -> Bool {
        let utf8 = id.utf8
        return (1...128).contains(utf8.count) && utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x5C }
    }

    /// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lower-case hex digits (W3C Trace Context).
    static func isTraceparent(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.utf8.count) == [2, 32, 16, 2] else { return false }
        return parts.allSatisfy { part in part.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } }
    }
}
