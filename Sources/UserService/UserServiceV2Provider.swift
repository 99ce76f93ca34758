import UserCore
import UserRPCServer
import UserRPCWire
import UserV2

/// Serves `user.v2.UserService` (`Schemas/user.v2.json`) from the same ``UserOperations`` as
/// version 1: the same users, presented with their version and last change, and two more methods.
public struct UserServiceV2Provider: RPCService {
    public let operations: UserOperations

    public init(operations: UserOperations) {
        self.operations = operations
    }

    public var schema: ServiceSchema { UserServiceV2.schema }

    public func registerMethods(with router: inout RPCRouter) {
        let operations = self.operations
        router.register(UserServiceV2.registerUser) { request, context in
            operations.register(username: request.username, email: request.email, idempotencyKey: context.requestMetadata["idempotency-key"])
                .answer(UserServiceV2.User.init)
        }
        router.register(UserServiceV2.getUser) { request, _ in
            operations.user(id: request.id).answer(UserServiceV2.User.init)
        }
        router.register(UserServiceV2.searchUsers) { request, _ in
            operations.search(username: request.username, email: request.email, limit: request.limit, pageToken: request.pageToken)
                .answer(UserServiceV2.SearchUsersResponse.init)
        }
        router.register(UserServiceV2.updateUser) { request, _ in
            operations.update(id: request.id, username: request.username, email: request.email, expectedVersion: request.expectedVersion)
                .answer(UserServiceV2.User.init)
        }
        router.register(UserServiceV2.deleteUser) { request, _ in
            operations.delete(id: request.id, expectedVersion: request.expectedVersion).answer { _ in UserServiceV2.DeleteUserResponse() }
        }
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
