extension UserRPCClient {
    /// Every result of a paged search, page after page, as one `AsyncSequence`: the next page is
    /// asked for when the loop has taken the last result of the one before (so leaving the loop
    /// asks for no more). A failed page ends the loop with its error.
    ///
    /// ```swift
    /// for try await user in client.v2.searchAllUsers(username: "a") { print(user.username) }
    /// ```
    public struct Paginated<Element: Sendable>: AsyncSequence, Sendable {
        public typealias Failure = UserRPCError

        /// Fetches the page after `token` (`nil`: the first): its results, and the next page's token.
        let fetch: @Sendable (_ token: String?) async throws(UserRPCError) -> (results: [Element], next: String?)

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(fetch: fetch)
        }

        /// Takes the results one by one, fetching pages as needed.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Failure = UserRPCError

            let fetch: @Sendable (String?) async throws(UserRPCError) -> (results: [Element], next: String?)
            private var page: [Element] = []
            private var index = 0
            /// The next page's token; `nil` once the last page has been fetched.
            private var next: String?
            private var started = false

            init(fetch: @escaping @Sendable (String?) async throws(UserRPCError) -> (results: [Element], next: String?)) {
                self.fetch = fetch
            }

            /// The next result; `nil` after the last page's last one.
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(UserRPCError) -> Element? {
                while index == page.count {
                    guard !started || next != nil else { return nil }
                    let fetched = try await fetch(next)
                    (page, index, next, started) = (fetched.results, 0, fetched.next, true)
                }
                defer { index += 1 }
                return page[index]
            }

            public mutating func next() async throws(UserRPCError) -> Element? {
                try await next(isolation: nil)
            }
        }
    }
}

extension UserServiceV1Client {
    /// `SearchUsers` page after page: every user matching the filters, in order (see
    /// ``UserRPCClient/Paginated``); `pageSize` is each page's `limit`.
    public func searchAllUsers(username: String? = nil, email: String? = nil, pageSize: Int? = nil, options: CallOptions = CallOptions())
        -> UserRPCClient.Paginated<UserServiceV1.User>
    {
        UserRPCClient.Paginated { [self] token throws(UserRPCError) in
            let page = try await searchUsers(username: username, email: email, limit: pageSize, pageToken: token, options: options)
            return (page.users, page.nextPageToken)
        }
    }
}

extension UserServiceV2Client {
    /// `SearchUsers` page after page: every user matching the filters, in order (see
    /// ``UserRPCClient/Paginated``); `pageSize` is each page's `limit`.
    public func searchAllUsers(username: String? = nil, email: String? = nil, pageSize: Int? = nil, options: CallOptions = CallOptions())
        -> UserRPCClient.Paginated<UserServiceV2.User>
    {
        UserRPCClient.Paginated { [self] token throws(UserRPCError) in
            let page = try await searchUsers(username: username, email: email, limit: pageSize, pageToken: token, options: options)
            return (page.users, page.nextPageToken)
        }
    }
}
