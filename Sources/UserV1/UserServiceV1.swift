import UserRPCWire

/// `user.v1.UserService`: its schema and its methods, each with its request and response message.
public enum UserServiceV1 {
    /// `Schemas/user.v1.json`, as built into this module.
    public static let schema = ServiceSchema(embedded: EmbeddedSchema.json)

    /// The service's full name, as it prefixes method names on the wire.
    public static let name = "user.v1.UserService"

    /// `RegisterUser`: registers a user; its username and email must be free (case-insensitively).
    public static let registerUser = MethodDescriptor<RegisterUserRequest, User>(
        service: name, name: "RegisterUser", idempotency: .withIdempotencyKey)
    /// `GetUser`: one user by id.
    public static let getUser = MethodDescriptor<GetUserRequest, User>(service: name, name: "GetUser", idempotency: .noSideEffects)
    /// `SearchUsers`: a page of users by username prefix and/or exact email.
    public static let searchUsers = MethodDescriptor<SearchUsersRequest, SearchUsersResponse>(
        service: name, name: "SearchUsers", idempotency: .noSideEffects)
}
