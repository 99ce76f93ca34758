import UserRPCWire

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UserServiceV2 {
    /// `user.v2.RegisterUserRequest`: the fields of a new user.
    public struct RegisterUserRequest: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "RegisterUserRequest"
        /// The username (3 to 100 ASCII letters, digits, `.`, `_`, `-`).
        public var username: String
        /// The email address.
        public var email: String

        /// A message with these fields.
        public init(username: String, email: String) {
            self.username = username
            self.email = email
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            username = fields.required("username", as: String.self)
            email = fields.required("email", as: String.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("username", username)
            fields.field("email", email)
        }
    }

    /// `user.v2.GetUserRequest`: the id of the user to return.
    public struct GetUserRequest: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "GetUserRequest"
        /// The user's id.
        public var id: UUID

        /// A message with these fields.
        public init(id: UUID) { self.id = id }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            id = fields.required("id", as: UUID.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("id", id)
        }
    }

    /// `user.v2.SearchUsersRequest`: filters and paging for a search. Every field is optional.
    public struct SearchUsersRequest: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "SearchUsersRequest"
        /// Case-insensitive username prefix.
        public var username: String?
        /// Exact email, compared case-insensitively.
        public var email: String?
        /// Page size, 1...100; the service uses 20 when absent.
        public var limit: Int?
        /// The `next_page_token` of the previous page.
        public var pageToken: String?

        /// A message with these fields.
        public init(username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil) {
            self.username = username
            self.email = email
            self.limit = limit
            self.pageToken = pageToken
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            username = fields.optional("username", as: String.self)
            email = fields.optional("email", as: String.self)
            limit = fields.optional("limit", as: Int.self)
            pageToken = fields.optional("page_token", as: String.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("username", username)
            fields.field("email", email)
            fields.field("limit", limit)
            fields.field("page_token", pageToken)
        }
    }

    /// `user.v2.UpdateUserRequest`: what to change, and the version it must be changed at.
    public struct UpdateUserRequest: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "UpdateUserRequest"
        /// The user's id.
        public var id: UUID
        /// The new username; at least one of `username` and `email` is required.
        public var username: String?
        /// The new email.
        public var email: String?
        /// When given, the change applies only if the user is at this version (otherwise ABORTED,
        /// with the current version in ``RPCError/currentVersion``).
        public var expectedVersion: UInt64?

        /// A message with these fields.
        public init(id: UUID, username: String? = nil, email: String? = nil, expectedVersion: UInt64? = nil) {
            self.id = id
            self.username = username
            self.email = email
            self.expectedVersion = expectedVersion
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            id = fields.required("id", as: UUID.self)
            username = fields.optional("username", as: String.self)
            email = fields.optional("email", as: String.self)
            expectedVersion = fields.optional("expected_version", as: UInt64.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("id", id)
            fields.field("username", username)
            fields.field("email", email)
            fields.field("expected_version", expectedVersion)
        }
    }

    /// `user.v2.DeleteUserRequest`: the user to delete, and the version it must be deleted at.
    public struct DeleteUserRequest: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "DeleteUserRequest"
        /// The user's id.
        public var id: UUID
        /// When given, the user is deleted only if it is at this version (otherwise ABORTED).
        public var expectedVersion: UInt64?

        /// A message with these fields.
        public init(id: UUID, expectedVersion: UInt64? = nil) {
            self.id = id
            self.expectedVersion = expectedVersion
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            id = fields.required("id", as: UUID.self)
            expectedVersion = fields.optional("expected_version", as: UInt64.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("id", id)
            fields.field("expected_version", expectedVersion)
        }
    }

    /// `user.v2.DeleteUserResponse`: the empty answer of a deletion.
    public struct DeleteUserResponse: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "DeleteUserResponse"
        /// A message with these fields.
        public init() {}
        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {}
        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {}
    }

    /// `user.v2.User`: a user as version 2 presents it, with its version and last change.
    public struct User: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "User"
        /// The user's id (a version 7 UUID); lower-case text on the wire.
        public var id: UUID
        /// The username (3 to 100 ASCII letters, digits, `.`, `_`, `-`).
        public var username: String
        /// The email address.
        public var email: String
        /// When the user registered.
        public var createdAt: Date
        /// When the user last changed (``createdAt`` until then).
        public var updatedAt: Date
        /// 1 at registration, one more on every change: what `expected_version` tests.
        public var version: UInt64

        /// A message with these fields.
        public init(id: UUID, username: String, email: String, createdAt: Date, updatedAt: Date, version: UInt64) {
            self.id = id
            self.username = username
            self.email = email
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.version = version
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            id = fields.required("id", as: UUID.self)
            username = fields.required("username", as: String.self)
            email = fields.required("email", as: String.self)
            createdAt = fields.required("created_at", as: Date.self)
            updatedAt = fields.required("updated_at", as: Date.self)
            version = fields.required("version", as: UInt64.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("id", id)
            fields.field("username", username)
            fields.field("email", email)
            fields.field("created_at", createdAt)
            fields.field("updated_at", updatedAt)
            fields.field("version", version)
        }
    }

    /// `user.v2.SearchUsersResponse`: one page of results.
    public struct SearchUsersResponse: RPCMessage, Hashable {
        /// The message's name in `Schemas/user.v2.json`.
        public static let messageName = "SearchUsersResponse"
        /// The users of this page, in search order.
        public var users: [User]
        /// Present when another page follows: pass it back as `page_token`.
        public var nextPageToken: String?

        /// A message with these fields.
        public init(users: [User], nextPageToken: String? = nil) {
            self.users = users
            self.nextPageToken = nextPageToken
        }

        /// Reads the message's fields (see ``RPCMessage/init(fields:)``).
        @inlinable
        public init(fields: inout some MessageFieldReader) {
            users = fields.messages("users", as: User.self, required: true)
            nextPageToken = fields.optional("next_page_token", as: String.self)
        }

        /// Writes the message's fields, in schema order.
        @inlinable
        public func write(fields: inout MessageFieldWriter) {
            fields.field("users", messages: users)
            fields.field("next_page_token", nextPageToken)
        }
    }
}

extension RPCError {
    /// The user's current version, for ABORTED (`details.current_version`): a test-and-set
    /// (`expected_version`) lost a race; re-read the user and try again.
    public var currentVersion: UInt64? { details?["current_version"]?.uint64Value }
}
