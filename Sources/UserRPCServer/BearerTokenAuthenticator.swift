/// Checks the `authorization: Bearer <token>` metadata entry of calls against the configured tokens.
///
/// Comparison takes the same time wherever the first differing byte is, so response timing does not
/// reveal how much of a guess was right. Tokens are never logged.
struct BearerTokenAuthenticator: Sendable {
    private let tokens: [[UInt8]]
    private let openMethods: Set<String>

    init(tokens: [String], openMethods: Set<String>) {
        self.tokens = tokens.map { Array($0.utf8) }
        self.openMethods = openMethods
    }

    /// Whether calls need a token at all.
    var isEnabled: Bool { !tokens.isEmpty }

    /// Whether a call of `method` with this metadata may proceed.
    func allows(method: String, metadata: [String: String]) -> Bool {
        guard isEnabled, !openMethods.contains(method) else { return true }
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
