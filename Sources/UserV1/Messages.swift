import StrictJSON

/// `user.v1.RegisterUserRequest`: the fields of a new user.
public struct RegisterUserRequest: UserV1Message {
    public static let messageName = "RegisterUserRequest"
    public static let fieldNames = ["username", "email"]

    public var username: String
    public var email: String

    public init(username: String, email: String) {
        self.username = username
        self.email = email
    }

    public init(json: JSONObject) throws(MessageDecodingError) {
        var reader = FieldReader(json, allowed: Self.fieldNames)
        username = reader.requiredString("username")
        email = reader.requiredString("email")
        try reader.finish()
    }

    public func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("username")
        writer.string(username)
        writer.key("email")
        writer.string(email)
        writer.endObject()
    }
}

/// `user.v1.GetUserRequest`: the id of the user to return.
public struct GetUserRequest: UserV1Message {
    public static let messageName = "GetUserRequest"
    public static let fieldNames = ["id"]

    /// A UUID in its 36-character text form.
    public var id: String

    public init(id: String) {
        self.id = id
    }

    public init(json: JSONObject) throws(MessageDecodingError) {
        var reader = FieldReader(json, allowed: Self.fieldNames)
        id = reader.requiredString("id")
        try reader.finish()
    }

    public func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.endObject()
    }
}

/// `user.v1.SearchUsersRequest`: filters and paging for a search. Every field is optional.
public struct SearchUsersRequest: UserV1Message {
    public static let messageName = "SearchUsersRequest"
    public static let fieldNames = ["username", "email", "limit", "page_token"]

    /// Case-insensitive username prefix.
    public var username: String?
    /// Exact email, compared case-insensitively.
    public var email: String?
    /// Page size, 1...100; the service uses 20 when absent.
    public var limit: Int?
    /// The `next_page_token` of the previous page.
    public var pageToken: String?

    public init(username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil) {
        self.username = username
        self.email = email
        self.limit = limit
        self.pageToken = pageToken
    }

    public init(json: JSONObject) throws(MessageDecodingError) {
        var reader = FieldReader(json, allowed: Self.fieldNames)
        username = reader.optionalString("username")
        email = reader.optionalString("email")
        limit = reader.optionalInt("limit")
        pageToken = reader.optionalString("page_token")
        try reader.finish()
    }

    public func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        if let username {
            writer.key("username")
            writer.string(username)
        }
        if let email {
            writer.key("email")
            writer.string(email)
        }
        if let limit {
            writer.key("limit")
            writer.int(limit)
        }
        if let pageToken {
            writer.key("page_token")
            writer.string(pageToken)
        }
        writer.endObject()
    }
}

/// `user.v1.User`: a registered user, as the service returns it.
public struct User: UserV1Message {
    public static let messageName = "User"
    public static let fieldNames = ["id", "username", "email", "created_at"]

    /// Lower-case UUID text.
    public var id: String
    public var username: String
    public var email: String
    /// RFC 3339 UTC timestamp, for example `2026-11-27T10:15:00.123Z`.
    public var createdAt: String

    public init(id: String, username: String, email: String, createdAt: String) {
        self.id = id
        self.username = username
        self.email = email
        self.createdAt = createdAt
    }

    public init(json: JSONObject) throws(MessageDecodingError) {
        var reader = FieldReader(json, allowed: Self.fieldNames)
        id = reader.requiredString("id")
        username = reader.requiredString("username")
        email = reader.requiredString("email")
        createdAt = reader.requiredString("created_at")
        try reader.finish()
    }

    public func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.key("username")
        writer.string(username)
        writer.key("email")
        writer.string(email)
        writer.key("created_at")
        writer.string(createdAt)
        writer.endObject()
    }
}

/// `user.v1.SearchUsersResponse`: one page of results.
public struct SearchUsersResponse: UserV1Message {
    public static let messageName = "SearchUsersResponse"
    public static let fieldNames = ["users", "next_page_token"]

    public var users: [User]
    /// Present when another page follows.
    public var nextPageToken: String?

    public init(users: [User], nextPageToken: String? = nil) {
        self.users = users
        self.nextPageToken = nextPageToken
    }

    public init(json: JSONObject) throws(MessageDecodingError) {
        var reader = FieldReader(json, allowed: Self.fieldNames)
        var users: [User] = []
        switch json["users"] {
        case .array(let elements)?:
            for (index, element) in elements.enumerated() {
                guard case .object(let object) = element else {
                    reader.violations.append(FieldViolation(field: "users[\(index)]", description: "must be an object"))
                    continue
                }
                do {
                    users.append(try User(json: object))
                } catch {
                    reader.violations += error.violations.map {
                        FieldViolation(field: "users[\(index)].\($0.field)", description: $0.description)
                    }
                }
            }
        case nil:
            reader.violations.append(FieldViolation(field: "users", description: "is required"))
        case let other?:
            reader.violations.append(FieldViolation(field: "users", description: "must be an array, not \(other.typeName)"))
        }
        self.users = users
        nextPageToken = reader.optionalString("next_page_token")
        try reader.finish()
    }

    public func encode(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("users")
        writer.beginArray()
        for user in users { user.encode(into: &writer) }
        writer.endArray()
        if let nextPageToken {
            writer.key("next_page_token")
            writer.string(nextPageToken)
        }
        writer.endObject()
    }
}
