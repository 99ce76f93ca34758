/// The schema migrations of the durable embedded store, numbered as PostgreSQL's, applied in order.
///
/// Each is a file in `Migrations/`, embedded in the binary at build time, and listed in `Generated/`
/// (``all``) by `scripts/generate.sh`.
enum SQLiteMigrations {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }
}

/// Applies pending migrations, each in its own transaction, recorded in `schema_migrations`. (The
/// data directory's lock keeps every other server out meanwhile.)
enum SQLiteMigrator {
    static func migrate(_ connection: SQLiteConnection) throws(SQLiteError) -> [Int] {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     INTEGER PRIMARY KEY,
                name        TEXT    NOT NULL,
                applied_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            )
            """)
        var applied = Set<Int64>()
        try connection.run("SELECT version FROM schema_migrations", []) { row in
            if let version = row.integer(0) { applied.insert(version) }
        }
        var newlyApplied: [Int] = []
        for migration in SQLiteMigrations.all.sorted(by: { $0.version < $1.version }) where !applied.contains(Int64(migration.version)) {
            try connection.execute("BEGIN IMMEDIATE")
            do throws(SQLiteError) {
                try connection.execute(migration.sql)
                try connection.run(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [.integer(Int64(migration.version)), .text(migration.name)])
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
            newlyApplied.append(migration.version)
        }
        return newlyApplied
    }
}
