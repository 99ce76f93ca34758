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

    /// The username lower-cased: the key for uniqueness and ordering.
    public var usernameKey: String { username.lowercased() }
    /// The email lower-cased: the key for uniqueness and lookup.
    public var emailKey: String { email.lowercased() }
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
        guard changed.username != user.username || changed.email != user.email else { return user }
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
