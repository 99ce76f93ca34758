import UserRPCWire
import UserV1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// `user.v1.UserService` by name: each method is ``UserRPCClient/call(_:_:options:)`` with its
// descriptor from ``UserServiceV1``.
extension UserRPCClient {
    /// `RegisterUser`: registers a user and returns it with its new id. ALREADY_EXISTS names the taken
    /// field (``RPCError/conflictingField``); INVALID_ARGUMENT lists each bad one
    /// (``RPCError/fieldViolations``).
    public nonisolated(nonsending) func registerUser(username: String, email: String, options: CallOptions = CallOptions()) async throws(UserRPCError)
        -> UserV1.User
    {
        try await call(UserServiceV1.registerUser, RegisterUserRequest(username: username, email: email), options: options)
    }

    /// `GetUser`: the user with this id; NOT_FOUND when there is none.
    public nonisolated(nonsending) func getUser(id: UUID, options: CallOptions = CallOptions()) async throws(UserRPCError) -> UserV1.User {
        try await call(UserServiceV1.getUser, GetUserRequest(id: id), options: options)
    }

    /// `SearchUsers`: one page of users by username prefix and/or exact email (both case-insensitive),
    /// ordered by username; pass the page's `nextPageToken` back as `pageToken` for the next one.
    public nonisolated(nonsending) func searchUsers(
        username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil,
        options: CallOptions = CallOptions()
    ) async throws(UserRPCError) -> SearchUsersResponse {
        try await call(
            UserServiceV1.searchUsers, SearchUsersRequest(username: username, email: email, limit: limit, pageToken: pageToken), options: options)
    }
}
