import UserCore

/// How the PostgreSQL store connects.
public struct PostgresUserStoreConfiguration: Sendable, Hashable {
    /// `postgres://user:password@host:port/database`.
    public var url: String
    /// Connections (and the threads that run their blocking libpq calls). Default 8: enough to keep a
    /// 2-core database busy while some connections wait on the network.
    public var poolSize: Int = 8
    /// Bound on opening one connection, in seconds. Default 3.
    public var connectTimeoutSeconds: Int = 3
    /// How much of the change feed is kept (in the database, and in each server's memory). Default:
    /// an hour, at most 100,000 changes.
    public var feed = UserFeedConfiguration()

    public init(url: String) {
        self.url = url
    }
}
