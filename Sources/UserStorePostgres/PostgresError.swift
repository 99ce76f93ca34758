/// An error from PostgreSQL or from talking to it. Its `description` leaves out connection strings.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No connection could be made, or it broke (server down or restarting).
        case connection
        /// The server refused a statement; `sqlState` says why.
        case server
        /// The statement was cancelled (deadline or cancellation).
        case cancelled
    }

    public var kind: Kind
    /// The five-character SQLSTATE, for server errors (for example `23505`).
    public var sqlState: String?
    /// The constraint involved, when the server names one.
    public var constraint: String?
    public var message: String

    public init(kind: Kind, sqlState: String? = nil, constraint: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.constraint = constraint
        self.message = message
    }

    /// SQLSTATE 23505.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    public var description: String {
        var text = "PostgreSQL \(kind)"
        if let sqlState { text += " \(sqlState)" }
        return text + ": " + message
    }
}
