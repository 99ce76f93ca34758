import UserCore

/// Every statement the store runs. Values always travel as parameters (`$1`, `$2`, …).
enum SQL {
    /// A user row: id, username, email, created_at and updated_at in milliseconds, version. An
    /// updated_at still NULL (registered before migration 3 filled it) reads as created_at.
    static let columns =
        #"id, username, email, (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM COALESCE(updated_at, created_at)) * 1000)::bigint, version"#

    /// The new user and its event (the change feed, still to be numbered), in one statement: one transaction.
    static let insert = """
        WITH inserted AS (
            INSERT INTO users (id, username, email, created_at, updated_at, version)
            VALUES ($1::uuid, $2, $3, 'epoch'::timestamptz + $4::bigint * interval '1 millisecond',
                    'epoch'::timestamptz + $4::bigint * interval '1 millisecond', 1)
            RETURNING id, username, email)
        INSERT INTO user_events_pending (kind, user_id, username, email, created_at_ms, updated_at_ms, version)
        SELECT 'REGISTERED', id, username, email, $4::bigint, $4::bigint, 1 FROM inserted
        """

    /// The columns of a changed or deleted user, named, for its event (`RETURNING`).
    static let eventColumns = """
        id, username, email, (extract(epoch FROM created_at) * 1000)::bigint AS created_at_ms,
        (extract(epoch FROM COALESCE(updated_at, created_at)) * 1000)::bigint AS updated_at_ms, version
        """

    /// Writes the event of the rows of `source` (a CTE returning ``eventColumns``).
    static func writeEvent(_ kind: String, from source: String) -> String {
        """
        INSERT INTO user_events_pending (kind, user_id, username, email, created_at_ms, updated_at_ms, version)
        SELECT '\(kind)', id, username, email, created_at_ms, updated_at_ms, version FROM \(source)
        """
    }

    /// Compare-and-set: the user's new fields (`$2`–`$5`: username, email, updated_at in
    /// milliseconds, version) only if it is still at version `$6` of the registration made at `$7`
    /// (milliseconds: a user deleted and registered again under its id starts again at version 1).
    /// No row: not found, or another version (the store then reads which). What the change is, is
    /// decided before (UserCore).
    /// The change's event is written in the same statement.
    static let replace = """
        WITH changed AS (
            UPDATE users SET username = $2, email = $3, updated_at = 'epoch'::timestamptz + $4::bigint * interval '1 millisecond',
                version = $5::bigint
            WHERE id = $1::uuid AND version = $6::bigint AND \(createdAtMilliseconds) = $7::bigint
            RETURNING \(eventColumns)),
        event AS (\(writeEvent("UPDATED", from: "changed")))
        SELECT id, username, email, created_at_ms, updated_at_ms, version FROM changed
        """

    /// Compare-and-delete: only at version `$2` of the registration made at `$3`. No row: not found,
    /// or another version.
    static let delete = """
        WITH deleted AS (
            DELETE FROM users WHERE id = $1::uuid AND version = $2::bigint AND \(createdAtMilliseconds) = $3::bigint
            RETURNING \(eventColumns)),
        event AS (\(writeEvent("DELETED", from: "deleted")))
        SELECT id FROM deleted
        """

    /// `created_at` in whole milliseconds, as rows carry it.
    static let createdAtMilliseconds = "(extract(epoch FROM created_at) * 1000)::bigint"

    static let versionByID = "SELECT version FROM users WHERE id = $1::uuid"

    /// A user copied from another store, as it is; one whose id is here already is skipped (no row).
    static let importUser = """
        INSERT INTO users (id, username, email, created_at, updated_at, version)
        VALUES ($1::uuid, $2, $3, 'epoch'::timestamptz + $4::bigint * interval '1 millisecond',
                'epoch'::timestamptz + $5::bigint * interval '1 millisecond', $6::bigint)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """

    static let byID = "SELECT \(columns) FROM users WHERE id = $1::uuid"

    /// `$1` is an array literal of ids, for example `{0192…,0193…}`.
    static let byIDs = "SELECT \(columns) FROM users WHERE id = ANY($1::uuid[])"

    struct Statement {
        var name: String
        var sql: String
        var parameters: [String?]
    }

    /// The search statement for the filters in use, or `nil` when nothing can match.
    ///
    /// Order and keyset use `lower(username) COLLATE "C"`, which the unique index covers; since it is
    /// unique, it orders users completely (the same order as (lower(username), id)).
    static func search(_ query: UserSearchQuery) -> Statement? {
        var conditions: [String] = []
        var parameters: [String?] = []
        var name = "search"
        func parameter(_ value: String) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        if let prefix = query.usernamePrefix, !prefix.isEmpty {
            // Usernames are ASCII letters, digits, '.', '_', '-': a prefix with anything else matches nothing.
            guard let upperBound = prefixUpperBound(prefix) else { return nil }
            conditions.append(#"lower(username) COLLATE "C" >= \#(parameter(prefix))"#)
            conditions.append(#"lower(username) COLLATE "C" < \#(parameter(upperBound))"#)
            name += "_prefix"
        }
        if let email = query.email {
            conditions.append(#"lower(email COLLATE "C") = \#(parameter(email))"#)
            name += "_email"
        }
        if let after = query.after {
            conditions.append(#"lower(username) COLLATE "C" > \#(parameter(after.usernameKey))"#)
            name += "_after"
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = parameter(String(query.limit + 1))
        let sql = #"SELECT \#(columns) FROM users \#(whereClause) ORDER BY lower(username) COLLATE "C" LIMIT \#(limit)::integer"#
        return Statement(name: name, sql: sql, parameters: parameters)
    }

    /// The smallest string greater than every string that starts with `prefix` (byte order), for a
    /// prefix made of username characters; `nil` for any other prefix.
    static func prefixUpperBound(_ prefix: String) -> String? {
        var bytes = Array(prefix.utf8)
        let allowed: (UInt8) -> Bool = { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
        guard !bytes.isEmpty, bytes.allSatisfy(allowed) else { return nil }
        bytes[bytes.count - 1] += 1  // at most 'z' + 1 = '{': still ASCII
        return String(decoding: bytes, as: UTF8.self)
    }
}
