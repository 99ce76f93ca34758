import UserCore
import UserRPCServer
import UserRPCWire
import UserV2

/// Serves `user.v2.UserService` (`Schemas/user.v2.json`, the generated
/// ``UserServiceV2/ServiceProtocol``) from the same ``UserOperations`` as version 1: the same
/// users, presented with their version and last change, and two more methods.
public struct UserServiceV2Provider: UserServiceV2.ServiceProtocol {
    public let operations: UserOperations

    public init(operations: UserOperations) {
        self.operations = operations
    }

    public func registerUser(_ request: UserServiceV2.RegisterUserRequest, context: inout ServerContext) -> ServerAnswer<UserServiceV2.User> {
        operations.register(username: request.username, email: request.email, idempotencyKey: context.requestMetadata["idempotency-key"])
            .answer(UserServiceV2.User.init)
    }

    public func getUser(_ request: UserServiceV2.GetUserRequest, context: inout ServerContext) -> ServerAnswer<UserServiceV2.User> {
        operations.user(id: request.id).answer(UserServiceV2.User.init)
    }

    public func searchUsers(_ request: UserServiceV2.SearchUsersRequest, context: inout ServerContext) -> ServerAnswer<
        UserServiceV2.SearchUsersResponse
    > {
        operations.search(username: request.username, email: request.email, limit: request.limit, pageToken: request.pageToken)
            .answer(UserServiceV2.SearchUsersResponse.init)
    }

    public func updateUser(_ request: UserServiceV2.UpdateUserRequest, context: inout ServerContext) -> ServerAnswer<UserServiceV2.User> {
        operations.update(id: request.id, username: request.username, email: request.email, expectedVersion: request.expectedVersion)
            .answer(UserServiceV2.User.init)
    }

    public func deleteUser(_ request: UserServiceV2.DeleteUserRequest, context: inout ServerContext) -> ServerAnswer<
        UserServiceV2.DeleteUserResponse
    > {
        operations.delete(id: request.id, expectedVersion: request.expectedVersion).answer { _ in UserServiceV2.DeleteUserResponse() }
    }
}

extension UserServiceV2.User {
    /// The entity as version 2 presents it.
    public init(_ user: UserCore.User) {
        self.init(
            id: user.id, username: user.username, email: user.email, createdAt: user.createdAt, updatedAt: user.updatedAt, version: user.version)
    }
}

extension UserServiceV2.SearchUsersResponse {
    /// A page of results as version 2 presents it.
    public init(_ page: UserPage) {
        self.init(users: page.users.map(UserServiceV2.User.init), nextPageToken: page.nextPageToken)
    }
}
