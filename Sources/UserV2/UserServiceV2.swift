import UserRPCWire

/// `user.v2.UserService`: users that can change and leave. Its schema, its methods, and (nested here,
/// so that they never clash with `user.v1`'s top-level names) its messages.
public enum UserServiceV2 {
    /// `Schemas/user.v2.json`, as built into this module.
    public static let schema = ServiceSchema(embedded: EmbeddedSchema.json)

    /// The service's full name, as it prefixes method names on the wire.
    public static let name = "user.v2.UserService"

    /// `RegisterUser`: registers a user, at version 1; its username and email must be free.
    public static let registerUser = MethodDescriptor<RegisterUserRequest, User>(
        service: name, name: "RegisterUser", idempotency: .withIdempotencyKey)
    /// `GetUser`: one user by id.
    public static let getUser = MethodDescriptor<GetUserRequest, User>(service: name, name: "GetUser", idempotency: .noSideEffects)
    /// `SearchUsers`: a page of users by username prefix and/or exact email.
    public static let searchUsers = MethodDescriptor<SearchUsersRequest, SearchUsersResponse>(
        service: name, name: "SearchUsers", idempotency: .noSideEffects)
    /// `UpdateUser`: changes a user's username and/or email, optionally only at an expected version.
    public static let updateUser = MethodDescriptor<UpdateUserRequest, User>(service: name, name: "UpdateUser")
    /// `DeleteUser`: deletes a user, optionally only at an expected version.
    public static let deleteUser = MethodDescriptor<DeleteUserRequest, DeleteUserResponse>(service: name, name: "DeleteUser")
}
