import UserCore
import UserRPCServer
import UserRPCWire
import UserV1

/// Serves `user.v1.UserService` (`Schemas/user.v1.json`, the generated
/// ``UserServiceV1/ServiceProtocol``) from the domain's ``UserOperations``: each method turns its
/// request into an operation and the domain's answer into the version 1 message.
public struct UserServiceV1Provider: UserServiceV1.ServiceProtocol {
    public let operations: UserOperations

    public init(operations: UserOperations) {
        self.operations = operations
    }

    public func registerUser(_ request: RegisterUserRequest, context: inout ServerContext) -> ServerAnswer<UserV1.User> {
        operations.register(username: request.username, email: request.email, idempotencyKey: context.requestMetadata["idempotency-key"])
            .answer(UserV1.User.init)
    }

    public func getUser(_ request: GetUserRequest, context: inout ServerContext) -> ServerAnswer<UserV1.User> {
        operations.user(id: request.id).answer(UserV1.User.init)
    }

    public func searchUsers(_ request: SearchUsersRequest, context: inout ServerContext) -> ServerAnswer<SearchUsersResponse> {
        operations.search(username: request.username, email: request.email, limit: request.limit, pageToken: request.pageToken)
            .answer(SearchUsersResponse.init)
    }
}

extension UserV1.User {
    /// The entity as version 1 presents it.
    public init(_ user: UserCore.User) {
        self.init(id: user.id, username: user.username, email: user.email, createdAt: user.createdAt)
    }
}

extension SearchUsersResponse {
    /// A page of results as version 1 presents it.
    public init(_ page: UserPage) {
        self.init(users: page.users.map(UserV1.User.init), nextPageToken: page.nextPageToken)
    }
}
