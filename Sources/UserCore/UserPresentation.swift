import UserV1

extension User {
    /// The entity as the versioned `user.v1.User` message.
    public var v1: UserV1.User {
        UserV1.User(id: id.lowercasedText, username: username, email: email, createdAt: RFC3339.format(createdAt))
    }
}
