/// The schema migrations, applied in order by ``PostgresMigrator``.
///
/// Each is a file in `Migrations/`, embedded in the binary at build time. Add a file `V<n>__<name>.sql`
/// and list it here; a test checks that the folder and this list agree.
public enum PostgresMigrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    public static let all: [Migration] = [
        Migration(version: 1, name: "create_users", sql: String(decoding: PackageResources.V1__create_users_sql, as: UTF8.self)),
        Migration(
            version: 2, name: "add_version_and_updated_at",
            sql: String(decoding: PackageResources.V2__add_version_and_updated_at_sql, as: UTF8.self)),
        Migration(version: 3, name: "backfill_updated_at", sql: String(decoding: PackageResources.V3__backfill_updated_at_sql, as: UTF8.self)),
        Migration(
            version: 4, name: "create_service_secrets", sql: String(decoding: PackageResources.V4__create_service_secrets_sql, as: UTF8.self)),
        Migration(version: 5, name: "ascii_case_folding", sql: String(decoding: PackageResources.V5__ascii_case_folding_sql, as: UTF8.self)),
    ]
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
