/// The schema migrations, applied in order by ``PostgresMigrator``.
///
/// Each is a file in `Migrations/`, embedded in the binary at build time. Add a file `V<n>__<name>.sql`
/// and run `scripts/generate.sh`, which lists the folder in `Generated/` (``all``); its check fails
/// on a list that differs from the folder.
public enum PostgresMigrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
    }
}

/// Applies pending migrations: each in its own transaction, recorded in `schema_migrations`, under a
/// PostgreSQL advisory lock so that several servers starting at once apply each migration once.
public enum PostgresMigrator {
    /// An arbitrary, fixed key for `pg_advisory_lock` ("user-rpc" in ASCII, as a number).
    static let advisoryLockKey = "8462377418497499459"

    /// Runs pending migrations on `connection` and returns the versions it applied. Blocking.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection) throws(PostgresError) -> [Int] {
        try connection.execute("SELECT pg_advisory_lock(\(advisoryLockKey))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(advisoryLockKey))") }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """)
        let applied = Set(try connection.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
        var newlyApplied: [Int] = []
        for migration in PostgresMigrations.all.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
            try connection.execute("BEGIN")
            do {
                try connection.execute(migration.sql)
                try connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", [String(migration.version), migration.name])
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            newlyApplied.append(migration.version)
        }
        return newlyApplied
    }
}
