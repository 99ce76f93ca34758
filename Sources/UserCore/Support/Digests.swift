import Crypto

/// SHA-256 and HMAC-SHA-256 (swift-crypto) as the service uses them: ids derived from idempotency
/// keys, and page-token signatures.
public enum Digests {
    /// The 32-byte SHA-256 digest of `message`.
    public static func sha256(_ message: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(message)))
    }

    /// HMAC-SHA-256 of `message` under `key` (32 bytes).
    public static func hmacSHA256(key: some Sequence<UInt8>, message: some Sequence<UInt8>) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message), using: SymmetricKey(data: Array(key))))
    }

    /// Whether two digests (or truncated ones) are equal, in a time that does not depend on where
    /// they differ.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
