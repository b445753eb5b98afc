// SQLiteMigrator.swift: named, append-only schema migrations tracked by PRAGMA user_version.
//
// Migration n (counting from 1) is applied when user_version is n - 1, in its own
// transaction which also sets user_version to n; so a crash leaves the schema at a whole
// version. A database whose user_version is past the known migrations belongs to a newer
// flowd and is refused rather than touched. A failing migration throws
// SQLiteMigrationError naming it, with the SQLiteError inside. Migrations are never edited
// or reordered once released: only appended.

/// One schema change: a name for messages and the SQL script that performs it.
public struct SQLiteMigration: Sendable {
    /// A short unique name, e.g. "create_runs".
    public var name: String
    /// One or more statements, run with `executeScript`.
    public var sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// Why migrating a database failed.
public enum SQLiteMigrationError: Error, Sendable, CustomStringConvertible {
    /// The database was written by a flowd that knows more migrations than this one.
    case schemaIsNewer(databaseVersion: Int, knownVersion: Int)
    /// Migration number `version` (counting from 1) failed and was rolled back.
    case migrationFailed(version: Int, name: String, error: SQLiteError)

    /// The SQLite failure behind this error, if any (to check `isDiskFull` and the like).
    public var sqliteError: SQLiteError? {
        if case .migrationFailed(_, _, let error) = self { return error }
        return nil
    }

    public var description: String {
        switch self {
        case .schemaIsNewer(let databaseVersion, let knownVersion):
            return "journal schema version \(databaseVersion) is newer than this flowd (\(knownVersion))"
        case .migrationFailed(let version, let name, let error):
            return "journal migration \(version) (\(name)) failed: \(error)"
        }
    }
}

/// Applies a fixed, ordered list of migrations to a database.
public struct SQLiteMigrator: Sendable {
    /// All migrations, oldest first; migration i brings the schema to version i + 1.
    public let migrations: [SQLiteMigration]

    /// Two migrations with the same name are a programmer error.
    public init(_ migrations: [SQLiteMigration]) {
        let names = migrations.map(\.name)
        precondition(Set(names).count == names.count, "duplicate migration names in \(names)")
        self.migrations = migrations
    }

    /// Applies, in order and each in its own transaction, the migrations past PRAGMA
    /// user_version, setting user_version after each. Throws
    /// `SQLiteMigrationError.schemaIsNewer` when the database's user_version is higher than
    /// the number of known migrations, `.migrationFailed` when one fails, and SQLiteError
    /// when the database cannot be read or locked.
    public func migrate(_ connection: SQLiteConnection) throws {
        while true {
            // Reading the version inside the write transaction means two processes
            // migrating at once cannot apply the same migration twice.
            let finished = try connection.transaction { () throws -> Bool in
                let version = try checkedVersion(connection)
                guard version < migrations.count else { return true }
                let migration = migrations[version]
                do throws(SQLiteError) {
                    try connection.executeScript(migration.sql)
                    try connection.setUserVersion(version + 1)
                } catch {
                    throw SQLiteMigrationError.migrationFailed(
                        version: version + 1, name: migration.name, error: error)
                }
                return false
            }
            if finished { return }
        }
    }

    /// The names of the migrations `migrate` would apply, in order.
    public func pendingMigrations(_ connection: SQLiteConnection) throws -> [String] {
        let version = try checkedVersion(connection)
        return migrations[version...].map(\.name)
    }

    /// The database's user_version, or a throw when it is past the known migrations.
    private func checkedVersion(_ connection: SQLiteConnection) throws -> Int {
        let version = try connection.userVersion
        guard version <= migrations.count else {
            throw SQLiteMigrationError.schemaIsNewer(databaseVersion: version, knownVersion: migrations.count)
        }
        return version
    }
}
