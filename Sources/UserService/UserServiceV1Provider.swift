import UserCore
import UserRPCServer
import UserRPCWire
import UserV1

/// Serves `user.v1.UserService` (`Schemas/user.v1.json`) from the domain's ``UserOperations``: one
/// handler per method, each turning the request message into an operation and the domain's answer
/// into the version 1 response message.
public struct UserServiceV1Provider: RPCService {
    public let operations: UserOperations

    public init(operations: UserOperations) {
        self.operations = operations
    }

    public var schema: ServiceSchema { UserServiceV1.schema }

    public func registerMethods(with router: inout RPCRouter) {
        let operations = self.operations
        router.register(UserServiceV1.registerUser) { request, context in
            operations.register(username: request.username, email: request.email, idempotencyKey: context.requestMetadata["idempotency-key"])
                .answer(UserV1.User.init)
        }
        router.register(UserServiceV1.getUser) { request, _ in
            operations.user(id: request.id).answer(UserV1.User.init)
        }
        router.register(UserServiceV1.searchUsers) { request, _ in
            operations.search(username: request.username, email: request.email, limit: request.limit, pageToken: request.pageToken)
                .answer(SearchUsersResponse.init)
        }
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
