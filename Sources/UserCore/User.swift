#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A registered user: the domain entity, which every version of the API presents in its own way.
public struct User: Sendable, Hashable {
    public var id: UUID
    /// As registered (case preserved). Unique case-insensitively.
    public var username: String
    /// As registered (case preserved). Unique case-insensitively.
    public var email: String
    /// When the user was registered, with millisecond precision.
    public var createdAt: Date
    /// When the user last changed (``createdAt`` until the first change), with millisecond precision.
    public var updatedAt: Date
    /// 1 at registration, one more on every change: the value a client tests before it writes.
    public var version: UInt64

    public init(id: UUID, username: String, email: String, createdAt: Date, updatedAt: Date? = nil, version: UInt64 = 1) {
        self.id = id
        self.username = username
        self.email = email
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.version = version
    }

    /// The username case-folded (``Swift/String/asciiLowercased``): the key for uniqueness and ordering.
    public var usernameKey: String { username.asciiLowercased }
    /// The email case-folded (``Swift/String/asciiLowercased``): the key for uniqueness and lookup.
    public var emailKey: FoldedKey { FoldedKey(email) }
}

/// A case-folded key (``Swift/String/asciiLowercased``) that compares byte for byte, as the
/// databases compare text. (Swift's `String` equality holds canonically equivalent texts equal —
/// `café` precomposed and `cafe` + U+0301 — where PostgreSQL and SQLite see two.)
public struct FoldedKey: Hashable, Sendable {
    /// The folded text's UTF-8 bytes.
    public let bytes: [UInt8]

    /// The key of `text`.
    public init(_ text: String) {
        bytes = Array(text.asciiLowercased.utf8)
    }

    /// The folded text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension String {
    /// Whether the two texts are the same bytes (not merely canonically equivalent).
    @inlinable public func sameBytes(as other: String) -> Bool {
        utf8.elementsEqual(other.utf8)
    }
}

extension String {
    /// The service's one case-folding rule, the same on every store: the ASCII letters `A`–`Z`
    /// become `a`–`z`, and every other character stays as it is (`Jürgen` and `JÜRGEN` differ;
    /// `Ada` and `ADA` do not). No Unicode normalization either: keys compare byte for byte.
    /// PostgreSQL applies the same rule as `lower(x COLLATE "C")`, SQLite as its built-in `lower(x)`.
    public var asciiLowercased: String {
        guard utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return self }
        return String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

/// A change to a user's fields, as UpdateUser asks for it: only the fields given change.
public struct UserChange: Sendable, Hashable {
    public var id: UUID
    public var username: String?
    public var email: String?
    /// When given, the change applies only if the user's version is this one.
    public var expectedVersion: UInt64?
    /// The time the change is made at (``User/updatedAt`` when something changes).
    public var at: Date

    public init(id: UUID, username: String?, email: String?, expectedVersion: UInt64?, at: Date) {
        self.id = id
        self.username = username
        self.email = email
        self.expectedVersion = expectedVersion
        self.at = at
    }

    /// `user` with this change applied: the same user (same version) when it changes nothing.
    public func applied(to user: User) -> User {
        var changed = user
        if let username { changed.username = username }
        if let email { changed.email = email }
        guard !changed.username.sameBytes(as: user.username) || !changed.email.sameBytes(as: user.email) else { return user }
        changed.updatedAt = at
        changed.version = user.version + 1
        return changed
    }
}

/// A deletion, as DeleteUser asks for it.
public struct UserDeletion: Sendable, Hashable {
    public var id: UUID
    /// When given, the deletion applies only if the user's version is this one.
    public var expectedVersion: UInt64?

    public init(id: UUID, expectedVersion: UInt64?) {
        self.id = id
        self.expectedVersion = expectedVersion
    }
}
