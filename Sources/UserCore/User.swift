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

    public init(id: UUID, username: String, email: String, createdAt: Date) {
        self.id = id
        self.username = username
        self.email = email
        self.createdAt = createdAt
    }

    /// The username lower-cased: the key for uniqueness and ordering.
    public var usernameKey: String { username.lowercased() }
    /// The email lower-cased: the key for uniqueness and lookup.
    public var emailKey: String { email.lowercased() }
}
