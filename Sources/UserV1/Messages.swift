import UserRPCWire

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `user.v1.RegisterUserRequest`: the fields of a new user.
public struct RegisterUserRequest: RPCMessage, Hashable {
    /// `RegisterUserRequest`, the message's name in the schema.
    public static let messageName = "RegisterUserRequest"

    /// 3 to 100 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit; unique case-insensitively.
    public var username: String
    /// At most 255 characters with one `@` and a dotted domain; unique case-insensitively.
    public var email: String

    /// A request to register `username` with `email`.
    public init(username: String, email: String) {
        self.username = username
        self.email = email
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        username = fields.required("username", as: String.self)
        email = fields.required("email", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("username", username)
        fields.field("email", email)
    }
}

/// `user.v1.GetUserRequest`: the id of the user to return.
public struct GetUserRequest: RPCMessage, Hashable {
    /// `GetUserRequest`, the message's name in the schema.
    public static let messageName = "GetUserRequest"

    /// The id of the user to return.
    public var id: UUID

    /// A request for the user with this id.
    public init(id: UUID) {
        self.id = id
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        id = fields.required("id", as: UUID.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("id", id)
    }
}

/// `user.v1.SearchUsersRequest`: filters and paging for a search. Every field is optional.
public struct SearchUsersRequest: RPCMessage, Hashable {
    /// `SearchUsersRequest`, the message's name in the schema.
    public static let messageName = "SearchUsersRequest"

    /// Case-insensitive username prefix.
    public var username: String?
    /// Exact email, compared case-insensitively.
    public var email: String?
    /// Page size, 1...100; the service uses 20 when absent.
    public var limit: Int?
    /// The `next_page_token` of the previous page.
    public var pageToken: String?

    /// A search; every filter is optional, and no filter lists all users.
    public init(username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil) {
        self.username = username
        self.email = email
        self.limit = limit
        self.pageToken = pageToken
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        username = fields.optional("username", as: String.self)
        email = fields.optional("email", as: String.self)
        limit = fields.optional("limit", as: Int.self)
        pageToken = fields.optional("page_token", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("username", username)
        fields.field("email", email)
        fields.field("limit", limit)
        fields.field("page_token", pageToken)
    }
}

/// `user.v1.User`: a registered user, as version 1 of the service presents it.
public struct User: RPCMessage, Hashable {
    /// `User`, the message's name in the schema.
    public static let messageName = "User"

    /// The user's id (a version 7 UUID); lower-case text on the wire.
    public var id: UUID
    /// As registered (case preserved).
    public var username: String
    /// As registered (case preserved).
    public var email: String
    /// When the user registered; RFC 3339 in UTC with milliseconds on the wire.
    public var createdAt: Date

    /// A user with these fields.
    public init(id: UUID, username: String, email: String, createdAt: Date) {
        self.id = id
        self.username = username
        self.email = email
        self.createdAt = createdAt
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        id = fields.required("id", as: UUID.self)
        username = fields.required("username", as: String.self)
        email = fields.required("email", as: String.self)
        createdAt = fields.required("created_at", as: Date.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("id", id)
        fields.field("username", username)
        fields.field("email", email)
        fields.field("created_at", createdAt)
    }
}

/// `user.v1.SearchUsersResponse`: one page of results.
public struct SearchUsersResponse: RPCMessage, Hashable {
    /// `SearchUsersResponse`, the message's name in the schema.
    public static let messageName = "SearchUsersResponse"

    /// This page's users, ordered by username (case-insensitively), then id.
    public var users: [User]
    /// Present when another page follows: pass it back as `page_token`.
    public var nextPageToken: String?

    /// A page of `users`, with the token of the next page when one follows.
    public init(users: [User], nextPageToken: String? = nil) {
        self.users = users
        self.nextPageToken = nextPageToken
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        users = fields.messages("users", as: User.self, required: true)
        nextPageToken = fields.optional("next_page_token", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("users", messages: users)
        fields.field("next_page_token", nextPageToken)
    }
}
