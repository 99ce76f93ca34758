import CLibPQ

/// One libpq connection. Blocking: use it only on a thread that may block (never an event loop).
///
/// Not `Sendable`: it belongs to one thread at a time. ``cancelHandle`` may be used from any thread.
public final class PostgresConnection {
    private var connection: OpaquePointer?
    private var prepared: Set<String> = []
    /// Cancels the statement running on this connection; safe to use from another thread.
    public let cancelHandle: PostgresCancelHandle

    /// Opens a connection. `url` is a `postgres://user:password@host:port/database` URL (or a libpq
    /// key-value string); `connectTimeoutSeconds` bounds the connect.
    public init(url: String, connectTimeoutSeconds: Int = 3, applicationName: String = "user-rpc-server") throws(PostgresError) {
        let keys = ["dbname", "connect_timeout", "application_name", "client_encoding"]
        let values = [url, String(connectTimeoutSeconds), applicationName, "UTF8"]
        let conn = Self.withCStrings(keys) { keyPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            throw PostgresError(kind: .connection, message: Self.firstLine(message))
        }
        // Keep NOTICEs off stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        self.connection = conn
        self.cancelHandle = PostgresCancelHandle(PQgetCancel(conn))
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// The connection's socket, to wait for notifications on (`poll`); -1 when closed.
    public var socket: Int32 {
        guard let connection else { return -1 }
        return PQsocket(connection)
    }

    /// Reads what the server sent (without blocking) and returns the notifications (`LISTEN`/`NOTIFY`)
    /// that arrived, in order: each one's channel and the process id of the session that sent it
    /// (this session's own ``backendPID`` for its own notifications).
    public func takeNotifications() throws(PostgresError) -> [(channel: String, senderPID: Int32)] {
        guard let connection else { throw PostgresError(kind: .connection, message: "connection is closed") }
        guard PQconsumeInput(connection) == 1 else { throw connectionError() }
        var notifications: [(channel: String, senderPID: Int32)] = []
        while let notification = PQnotifies(connection) {
            notifications.append((String(cString: notification.pointee.relname), notification.pointee.be_pid))
            PQfreemem(notification)
        }
        return notifications
    }

    /// The process id of this connection's session on the server.
    public var backendPID: Int32 {
        guard let connection else { return 0 }
        return PQbackendPID(connection)
    }

    /// Whether the connection is still usable (libpq has not seen it break).
    public var isHealthy: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// Runs SQL text with no parameters (schema changes, transaction control). Never pass request data here.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw PostgresError(kind: .connection, message: "connection is closed") }
        return try consume(PQexec(connection, sql))
    }

    /// Runs a parameterized statement. Parameters are sent separately from the SQL text (text format;
    /// `nil` is SQL NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw PostgresError(kind: .connection, message: "connection is closed") }
        let result = Self.withOptionalCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try consume(result)
    }

    /// Runs the statement prepared under `name`, preparing it from `sql` first if this connection has not.
    @discardableResult
    public func executePrepared(_ name: String, sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw PostgresError(kind: .connection, message: "connection is closed") }
        try prepareIfNeeded(name, sql: sql, parameterCount: parameters.count)
        let result = Self.withOptionalCStrings(parameters) { values in
            PQexecPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try consume(result)
    }

    /// Reads a result, frees it, and turns failures into ``PostgresError``.
    /// Runs a prepared statement once per parameter set, pipelined (libpq's pipeline mode): all are
    /// sent at once and the results read back in order, one round trip in all. Each runs in its own
    /// implicit transaction, so one failing (a unique violation) does not affect the others. Throws
    /// only when the connection fails.
    public func executePreparedPipeline(_ name: String, sql: String, _ parameterSets: [[String?]]) throws(PostgresError) -> [Result<
        PostgresRows, PostgresError
    >] {
        guard let connection else { throw PostgresError(kind: .connection, message: "connection is closed") }
        guard let first = parameterSets.first else { return [] }
        try prepareIfNeeded(name, sql: sql, parameterCount: first.count)
        guard PQenterPipelineMode(connection) == 1 else { throw connectionError() }
        for parameters in parameterSets {
            let sent = Self.withOptionalCStrings(parameters) { values in
                PQsendQueryPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
            }
            guard sent == 1, PQpipelineSync(connection) == 1 else { throw connectionError() }
        }
        var results: [Result<PostgresRows, PostgresError>] = []
        results.reserveCapacity(parameterSets.count)
        for _ in parameterSets {
            // The statement's result, the end of its results (NULL), then its sync point.
            guard let result = PQgetResult(connection) else { throw connectionError() }
            results.append(Result { () throws(PostgresError) in try consume(result) })
            while let extra = PQgetResult(connection) { PQclear(extra) }
            guard let sync = PQgetResult(connection) else { throw connectionError() }
            let isSync = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
            PQclear(sync)
            guard isSync else { throw connectionError() }
        }
        guard PQexitPipelineMode(connection) == 1 else { throw connectionError() }
        return results
    }

    private func prepareIfNeeded(_ name: String, sql: String, parameterCount: Int) throws(PostgresError) {
        guard let connection, !prepared.contains(name) else { return }
        try consume(PQprepare(connection, name, sql, Int32(parameterCount), nil))
        prepared.insert(name)
    }

    private func connectionError() -> PostgresError {
        PostgresError(kind: .connection, message: Self.firstLine(String(cString: PQerrorMessage(connection))))
    }

    @discardableResult
    private func consume(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else { throw connectionError() }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let constraint = PQresultErrorField(result, Int32(UInt8(ascii: "n"))).map { String(cString: $0) }
            let message = Self.firstLine(String(cString: PQresultErrorMessage(result)))
            let kind: PostgresError.Kind
            if !isHealthy || sqlState?.hasPrefix("08") == true || sqlState?.hasPrefix("57P") == true {
                kind = .connection
            } else if sqlState == "57014" {
                kind = .cancelled
            } else {
                kind = .server
            }
            throw PostgresError(kind: kind, sqlState: sqlState, constraint: constraint, message: message)
        }
    }

    private static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "")
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let duplicates = strings.map { strdup($0) }
        defer { for duplicate in duplicates { free(duplicate) } }
        return body(duplicates.map { UnsafePointer($0) } + [nil])
    }

    private static func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let duplicates = strings.map { $0.map { strdup($0) } ?? nil }
        defer { for duplicate in duplicates { free(duplicate) } }
        return body(duplicates.map { UnsafePointer($0) })
    }
}

/// The rows of a result, copied out of libpq as text (`nil` for NULL).
public struct PostgresRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]

    init(_ result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        rows = (0..<rowCount).map { row in
            (0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
    }

    public var count: Int { rows.count }
}

/// Sends libpq cancel requests for one connection.
///
/// `@unchecked Sendable`: libpq documents `PQcancel` as safe to call from any thread.
public final class PostgresCancelHandle: @unchecked Sendable {
    private let cancel: OpaquePointer?

    init(_ cancel: OpaquePointer?) {
        self.cancel = cancel
    }

    deinit {
        if let cancel { PQfreeCancel(cancel) }
    }

    /// Asks the server to cancel whatever this connection is running now.
    public func requestCancel() {
        guard let cancel else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
