import UserRPCWire

/// Refuses calls without a valid `authorization: Bearer <token>` metadata entry (UNAUTHENTICATED).
///
/// Comparison takes the same time wherever the first differing byte is, so response timing does not
/// reveal how much of a guess was right. Tokens are never logged.
public struct BearerTokenInterceptor: ServerInterceptor {
    private let tokens: [[UInt8]]
    private let openMethods: Set<String>
    private let openServices: Set<String>

    /// - Parameters:
    ///   - tokens: the tokens accepted; with none, every call passes.
    ///   - openMethods: full method names callable without a token.
    ///   - openServices: full service names (`health.v1.Health`) whose methods need no token.
    public init(tokens: [String], openMethods: Set<String> = [], openServices: Set<String> = []) {
        self.tokens = tokens.map { Array($0.utf8) }
        self.openMethods = openMethods
        self.openServices = openServices
    }

    public func willRun(_ context: inout ServerContext) -> RPCError? {
        allows(method: context.method, service: context.service, metadata: context.requestMetadata)
            ? nil : RPCError(code: .unauthenticated, message: "missing or invalid bearer token")
    }

    /// Whether a call of `method` with this metadata may proceed.
    func allows(method: String, service: Substring, metadata: [String: String]) -> Bool {
        guard !tokens.isEmpty, !openMethods.contains(method), !openServices.contains(String(service)) else { return true }
        guard let header = metadata["authorization"] else { return false }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.hasPrefix(prefix) else { return false }
        let presented = Array(header.utf8.dropFirst(prefix.utf8.count))
        var matched = false
        for token in tokens {
            // Check every token, so timing does not tell which (if any) matched.
            matched = Self.constantTimeEquals(presented, token) || matched
        }
        return matched
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
