import UserRPCWire
import UserV2

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UserRPCClient {
    /// The methods of `user.v2.UserService` by name: `client.v2.updateUser(…)`.
    public var v2: UserServiceV2Client { UserServiceV2Client(client: self) }
}

/// `user.v2.UserService` by name, through a ``UserRPCClient``: each method is
/// ``UserRPCClient/call(_:_:options:)`` with its descriptor from ``UserServiceV2``; the pipelined forms
/// are ``UserRPCClient/callPipelined(_:_:options:)`` with the same descriptors.
///
/// ```swift
/// var user = try await client.v2.getUser(id: id)
/// while true {
///     do throws(UserRPCError) {
///         user = try await client.v2.updateUser(id: id, email: "new@example.com", expectedVersion: user.version)
///         break
///     } catch where error.code == .aborted {
///         user = try await client.v2.getUser(id: id)   // someone else changed it: re-read and retry
///     }
/// }
/// ```
public struct UserServiceV2Client: Sendable {
    /// The client the calls go through.
    public let client: UserRPCClient

    /// `RegisterUser`: registers a user, at version 1. ALREADY_EXISTS names the taken field.
    public nonisolated(nonsending) func registerUser(username: String, email: String, options: CallOptions = CallOptions()) async throws(UserRPCError)
        -> UserServiceV2.User
    {
        try await client.call(UserServiceV2.registerUser, .init(username: username, email: email), options: options)
    }

    /// `GetUser`: the user with this id; NOT_FOUND when there is none (or it was deleted).
    public nonisolated(nonsending) func getUser(id: UUID, options: CallOptions = CallOptions()) async throws(UserRPCError) -> UserServiceV2.User {
        try await client.call(UserServiceV2.getUser, .init(id: id), options: options)
    }

    /// `SearchUsers`: one page of users by username prefix and/or exact email.
    public nonisolated(nonsending) func searchUsers(
        username: String? = nil, email: String? = nil, limit: Int? = nil, pageToken: String? = nil, options: CallOptions = CallOptions()
    ) async throws(UserRPCError) -> UserServiceV2.SearchUsersResponse {
        try await client.call(
            UserServiceV2.searchUsers, .init(username: username, email: email, limit: limit, pageToken: pageToken), options: options)
    }

    /// `UpdateUser`: changes the username and/or the email. With `expectedVersion`, only if the user
    /// is at that version: otherwise ABORTED, with the user's version in ``RPCError/currentVersion``.
    /// NOT_FOUND, ALREADY_EXISTS (``RPCError/conflictingField``) and INVALID_ARGUMENT as for
    /// registration. A change that changes nothing answers the user as it is.
    public nonisolated(nonsending) func updateUser(
        id: UUID, username: String? = nil, email: String? = nil, expectedVersion: UInt64? = nil, options: CallOptions = CallOptions()
    ) async throws(UserRPCError) -> UserServiceV2.User {
        try await client.call(
            UserServiceV2.updateUser, .init(id: id, username: username, email: email, expectedVersion: expectedVersion), options: options)
    }

    /// `DeleteUser`: deletes the user; its username and email are free at once. With
    /// `expectedVersion`, only if the user is at that version (otherwise ABORTED, as for updates).
    public nonisolated(nonsending) func deleteUser(id: UUID, expectedVersion: UInt64? = nil, options: CallOptions = CallOptions())
        async throws(UserRPCError)
    {
        _ = try await client.call(UserServiceV2.deleteUser, .init(id: id, expectedVersion: expectedVersion), options: options)
    }
}
