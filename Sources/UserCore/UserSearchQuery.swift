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
        if let email, user.emailKey != email { return false }
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

    /// The opaque page token for this position.
    public var pageToken: String {
        let text = "v1|\(usernameKey)|\(id.lowercasedText)"
        return Data(text.utf8).base64EncodedString()
            .replacing("+", with: "-")
            .replacing("/", with: "_")
            .replacing("=", with: "")
    }

    /// Reads a page token made by ``pageToken``; `nil` when it is not one.
    public init?(pageToken: String) {
        guard pageToken.utf8.count <= 400,
            pageToken.utf8.allSatisfy({ b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            })
        else { return nil }
        var base64 = pageToken.replacing("-", with: "+").replacing("_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(validating: data, as: UTF8.self) else { return nil }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let id = UUID(strictText: String(parts[2])) else { return nil }
        self.init(usernameKey: String(parts[1]), id: id)
    }
}
