import UserV1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads users: one by id (cache-aside), or a page of a search.
public struct UserQueryLogic: Sendable {
    public let repository: UserRepository
    /// The repository's synchronous view, looked up once (it involves dynamic casts).
    private let nonBlockingRepository: NonBlockingUserRepository?
    /// The repository's blocking view, looked up once.
    public let blockingRepository: BlockingUserRepository?

    public init(repository: UserRepository) {
        self.repository = repository
        self.nonBlockingRepository = repository.nonBlocking
        self.blockingRepository = repository.blocking
    }

    public func getUser(_ request: GetUserRequest) async throws(UserError) -> UserV1.User {
        let id = try UserValidation.userID(request.id)
        guard let user = try await repository.user(id: id) else { throw .notFound(id: request.id) }
        return user.v1
    }

    public func searchUsers(_ request: SearchUsersRequest) async throws(UserError) -> SearchUsersResponse {
        let query = try UserValidation.searchQuery(request)
        return Self.page(try await repository.search(query), limit: query.limit)
    }

    /// ``getUser(_:)`` without suspending, when the repository never blocks; `nil` when it cannot.
    public func getUserWithoutBlocking(_ request: GetUserRequest) -> Result<UserV1.User, UserError>? {
        guard let repository = nonBlockingRepository else { return nil }
        return Result { () throws(UserError) in
            let id = try UserValidation.userID(request.id)
            guard let user = try repository.user(id: id) else { throw .notFound(id: request.id) }
            return user.v1
        }
    }

    /// ``searchUsers(_:)`` without suspending, when the repository never blocks; `nil` when it cannot.
    public func searchUsersWithoutBlocking(_ request: SearchUsersRequest) -> Result<SearchUsersResponse, UserError>? {
        guard let repository = nonBlockingRepository else { return nil }
        return Result { () throws(UserError) in
            let query = try UserValidation.searchQuery(request)
            return Self.page(try repository.search(query), limit: query.limit)
        }
    }

    /// GetUser for several calls at once, on a thread that may block: for each id, in order, the
    /// user or NOT_FOUND (naming the id as the caller wrote it), and the cache fill to run once they
    /// are answered.
    public func getUsersBlocking(
        _ ids: [(id: UUID, text: String)], cancellation: CallCancellation
    ) -> (users: [Result<UserCore.User, UserError>], fillCache: () -> Void) {
        guard let repository = blockingRepository else { return (ids.map { _ in .failure(.internalError("no blocking path")) }, {}) }
        do throws(UserError) {
            let (found, fillCache) = try repository.users(ids: ids.map(\.id), cancellation: cancellation)
            let users = ids.map { item -> Result<UserCore.User, UserError> in
                found[item.id].map { .success($0) } ?? .failure(.notFound(id: item.text))
            }
            return (users, fillCache)
        } catch {
            return (ids.map { _ in .failure(error) }, {})
        }
    }

    /// ``searchUsers(_:)`` on a thread that may block; `nil` when the repository has no blocking view.
    public func searchUsersBlocking(_ request: SearchUsersRequest, cancellation: CallCancellation) -> Result<SearchUsersResponse, UserError>? {
        guard let repository = blockingRepository else { return nil }
        return Result { () throws(UserError) in
            let query = try UserValidation.searchQuery(request)
            return Self.page(try repository.search(query, cancellation: cancellation), limit: query.limit)
        }
    }

    /// The first `limit` users, and a token for the next page when the store returned more.
    static func page(_ users: [User], limit: Int) -> SearchUsersResponse {
        let pageUsers = users.prefix(limit)
        let token = users.count > limit ? pageUsers.last.map { UserSearchCursor($0).pageToken } : nil
        return SearchUsersResponse(users: pageUsers.map(\.v1), nextPageToken: token)
    }
}
