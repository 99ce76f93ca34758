#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads users: by id (cache-aside), or a page of a search. Written for batches; a single call is a
/// batch of one.
public struct UserQueryLogic: Sendable {
    public let repository: UserRepository
    /// Signs the page tokens of searches, and checks them.
    public let pageTokens: PageTokens

    public init(repository: UserRepository, pageTokens: PageTokens) {
        self.repository = repository
        self.pageTokens = pageTokens
    }

    /// GetUser for several calls at once: `answer(index, result)` once for each id, with the user or
    /// NOT_FOUND. Returns the cache fill to run once the calls are answered.
    public func users<IDs: RandomAccessCollection<UUID>>(
        _ ids: IDs, cancellation: CallCancellation?, answer: (Int, Result<User, UserError>) -> Void
    ) -> (@Sendable () -> Void)? {
        if ids.count == 1, let id = ids.first {
            // A batch of one, as every call on a store that never blocks: no table of results.
            do throws(UserError) {
                let (user, fill) = try repository.user(id: id, cancellation: cancellation)
                answer(0, user.map { .success($0) } ?? .failure(.notFound(id: id)))
                return fill
            } catch {
                answer(0, .failure(error))
                return nil
            }
        }
        var found: [UUID: User] = [:]
        do throws(UserError) {
            let fill = try repository.users(ids: ids, cancellation: cancellation) { found[$0.id] = $0 }
            for (index, id) in ids.enumerated() { answer(index, found[id].map { .success($0) } ?? .failure(.notFound(id: id))) }
            return fill
        } catch {
            for index in 0..<ids.count { answer(index, .failure(error)) }
            return nil
        }
    }

    /// One page of a search: the first `limit` users, and a token for the next page when the store
    /// returned more.
    public func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> UserPage {
        let users = try repository.search(query, cancellation: cancellation)
        let pageUsers = Array(users.prefix(query.limit))
        let token = users.count > query.limit ? pageUsers.last.map { pageTokens.token(after: UserSearchCursor($0), of: query) } : nil
        return UserPage(users: pageUsers, nextPageToken: token)
    }
}

/// One page of search results.
public struct UserPage: Sendable, Hashable {
    public var users: [User]
    /// Present when more results follow.
    public var nextPageToken: String?

    public init(users: [User], nextPageToken: String?) {
        self.users = users
        self.nextPageToken = nextPageToken
    }
}
