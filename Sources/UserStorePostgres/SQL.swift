import UserCore

/// Every statement the store runs. Values always travel as parameters (`$1`, `$2`, …).
enum SQL {
    static let columns = #"id, username, email, (extract(epoch FROM created_at) * 1000)::bigint"#

    static let insert = """
        INSERT INTO users (id, username, email, created_at)
        VALUES ($1::uuid, $2, $3, 'epoch'::timestamptz + $4::bigint * interval '1 millisecond')
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
            conditions.append("lower(email) = lower(\(parameter(email)))")
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
