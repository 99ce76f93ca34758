#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A validated search, as the repository and its stores see it (internal, never versioned).
public struct UserSearchQuery: Sendable, Hashable {
    /// Lower-cased username prefix; `nil` or empty matches every username.
    public var usernamePrefix: String?
    /// Lower-cased exact email, or `nil`.
    public var email: String?
    /// Results wanted; a store returns at most `limit + 1` so the caller can tell whether more follow.
    public var limit: Int
    /// Return only users strictly after this position in (lower(username), id) order.
    public var after: UserSearchCursor?

    public init(usernamePrefix: String? = nil, email: String? = nil, limit: Int, after: UserSearchCursor? = nil) {
        self.usernamePrefix = usernamePrefix
        self.email = email
        self.limit = limit
        self.after = after
    }

    /// Whether `user` matches the filters (not the cursor).
    public func matches(_ user: User) -> Bool {
        if let usernamePrefix, !usernamePrefix.isEmpty, !user.usernameKey.hasPrefix(usernamePrefix) { return false }
        if let email, user.emailKey != FoldedKey(email) { return false }
        return true
    }
}

/// A position in search order: the last user of a page.
public struct UserSearchCursor: Sendable, Hashable, Comparable {
    /// Lower-cased username.
    public var usernameKey: String
    public var id: UUID

    public init(usernameKey: String, id: UUID) {
        self.usernameKey = usernameKey
        self.id = id
    }

    public init(_ user: User) {
        self.init(usernameKey: user.usernameKey, id: user.id)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.usernameKey != rhs.usernameKey { return lhs.usernameKey.utf8.lexicographicallyPrecedes(rhs.usernameKey.utf8) }
        return lhs.id.lowercasedText < rhs.id.lowercasedText
    }
}

/// Page tokens: a position in search order, bound to the search that issued it and signed.
///
/// A token is the base64url text (no padding) of 16 bytes of HMAC-SHA-256 followed by the position
/// (`<lower-cased username>|<id>`). The MAC covers the position and the search's filters and limit,
/// under a key shared by every server of a store (``UserStore/pageTokenKey()``): a token made by
/// hand, changed, or used with other filters or another limit is refused; one issued by any server
/// sharing the store is accepted by all.
public struct PageTokens: Sendable {
    private let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    /// A key kept as hexadecimal text (as the stores read it); empty when the text is not hex.
    public static func key(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hex.utf8 {
            guard let digit = UInt8(String(UnicodeScalar(character)), radix: 16) else { return [] }
            if let value = high {
                bytes.append(value << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        return high == nil ? bytes : []
    }

    /// 32 random bytes, for a store that keeps no key (the in-memory store).
    public static func randomKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The token for the page after `cursor` of `query`.
    public func token(after cursor: UserSearchCursor, of query: UserSearchQuery) -> String {
        let position = Array("\(cursor.usernameKey)|\(cursor.id.lowercasedText)".utf8)
        let bytes = Array(mac(position, query)) + position
        return Data(bytes).base64EncodedString()
            .replacing("+", with: "-")
            .replacing("/", with: "_")
            .replacing("=", with: "")
    }

    /// The position `token` names, when this service issued it for `query` (same filters and limit);
    /// `nil` otherwise.
    public func cursor(from token: String, for query: UserSearchQuery) -> UserSearchCursor? {
        guard token.utf8.count <= 400,
            token.utf8.allSatisfy({ b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            })
        else { return nil }
        var base64 = token.replacing("-", with: "+").replacing("_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count > 16 else { return nil }
        let bytes = Array(data)
        let position = Array(bytes[16...])
        guard Digests.equal(Array(bytes[..<16]), Array(mac(position, query))),
            let text = String(validating: position, as: UTF8.self)
        else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = UUID(strictText: String(parts[1])) else { return nil }
        return UserSearchCursor(usernameKey: String(parts[0]), id: id)
    }

    private func mac(_ position: [UInt8], _ query: UserSearchQuery) -> ArraySlice<UInt8> {
        var message = Array("user-rpc page token v2\0".utf8)
        message += Array((query.usernamePrefix ?? "").utf8) + [0]
        message += Array((query.email ?? "").utf8) + [0]
        message += Array(String(query.limit).utf8) + [0]
        message += position
        return Digests.hmacSHA256(key: key, message: message)[..<16]
    }
}
