// SQLiteConnection.swift: one connection to a SQLite database, and how it is opened.
//
// A SQLiteConnection owns its sqlite3 handle and the prepared statements it has cached
// (by SQL text); deinit finalizes the statements, then closes the handle. A connection is
// not thread-safe (it is opened with SQLITE_OPEN_NOMUTEX) and not Sendable: its owner, one
// thread, uses it. Every failure throws SQLiteError with the SQL; misuse (the wrong number
// of arguments, several statements given to `execute`) traps.

import CSQLite

/// How a connection is opened and set up.
public struct SQLiteOptions: Sendable {
    /// The journal mode (`PRAGMA journal_mode`).
    public enum JournalMode: String, Sendable {
        /// Write-ahead log: readers do not block the writer nor the writer readers.
        case wal = "WAL"
        /// The rollback journal, deleted at the end of each transaction.
        case delete = "DELETE"
    }

    /// How often SQLite waits for the disk (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable {
        case off = "OFF"
        case normal = "NORMAL"
        case full = "FULL"
    }

    /// Open with SQLITE_OPEN_READONLY: every write fails with `isReadOnly`.
    public var readOnly: Bool = false
    /// Create the file when missing (SQLITE_OPEN_CREATE); ignored for `readOnly`.
    public var create: Bool = true
    /// Set and verified on open; not applied for `readOnly` (the file's mode stands).
    public var journalMode: JournalMode = .wal
    /// `PRAGMA synchronous`; NORMAL is durable across process crashes in WAL mode.
    public var synchronous: Synchronous = .normal
    /// How long a statement waits for another connection's lock before SQLITE_BUSY.
    public var busyTimeoutMilliseconds: Int32 = 5000
    /// `PRAGMA foreign_keys`.
    public var foreignKeys: Bool = true

    public init() {}
}

/// One connection, used from one thread at a time (opened with SQLITE_OPEN_NOMUTEX).
/// Not Sendable.
public final class SQLiteConnection {
    /// The database file as given to `init` (":memory:" for an in-memory database).
    public let path: String
    /// The options the connection was opened with.
    public let options: SQLiteOptions
    /// The sqlite3 handle; closed in deinit.
    private let database: OpaquePointer
    /// Prepared statements by SQL text. Dropped (finalized) before the handle closes.
    private var statementCache: [String: SQLiteStatement] = [:]
    /// Past this many cached statements the cache is emptied, so that SQL built at run
    /// time cannot grow it without bound.
    private static let statementCacheLimit = 128

    /// Opens (or creates) the database at `path` and applies `options`.
    /// Throws with `isReadOnly` when the file or its directory cannot be written.
    public init(path: String, options: SQLiteOptions = SQLiteOptions()) throws(SQLiteError) {
        self.path = path
        self.options = options
        var flags = SQLITE_OPEN_NOMUTEX
        if options.readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if options.create { flags |= SQLITE_OPEN_CREATE }
        }
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            var error = SQLiteError(database: handle, resultCode: code, path: path)
            if error.code == SQLITE_CANTOPEN, !options.readOnly {
                error.directoryIsReadOnly = SQLiteError.directoryIsNotWritable(for: path)
            }
            // A handle is returned even on failure and must be closed.
            sqlite3_close_v2(handle)
            throw error
        }
        self.database = handle
        sqlite3_extended_result_codes(handle, 1)
        do {
            try configure()
        } catch {
            // deinit runs and closes the handle.
            throw error.withPath(path)
        }
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(database)
    }

    private func configure() throws(SQLiteError) {
        let code = sqlite3_busy_timeout(database, options.busyTimeoutMilliseconds)
        guard code == SQLITE_OK else { throw SQLiteError(database: database, resultCode: code) }
        try executeScript("PRAGMA foreign_keys = \(options.foreignKeys ? "ON" : "OFF")")
        if !options.readOnly {
            let pragma = "PRAGMA journal_mode = \(options.journalMode.rawValue)"
            let mode = try scalar(pragma).stringValue?.uppercased() ?? ""
            // An in-memory database has no journal file and keeps mode "memory".
            if mode != options.journalMode.rawValue, mode != "MEMORY" {
                throw .misuse("journal mode stayed \(mode.lowercased())", sql: pragma)
            }
        }
        try executeScript("PRAGMA synchronous = \(options.synchronous.rawValue)")
    }

    // MARK: Running SQL

    /// Runs several statements separated by semicolons, without arguments and without
    /// caching them. Stops at the first failing statement and throws with its SQL.
    public func executeScript(_ sql: String) throws(SQLiteError) {
        let text = sql.utf8CString
        var offset = 0
        while offset < text.count - 1 {
            let preparation = SQLiteStatement.prepare(database: database, text: text, offset: offset)
            let statementSQL = SQLiteStatement.sqlText(text, from: offset, to: preparation.tailOffset)
            guard preparation.resultCode == SQLITE_OK else {
                throw SQLiteError(database: database, resultCode: preparation.resultCode, sql: statementSQL)
            }
            guard preparation.tailOffset > offset else { return }
            offset = preparation.tailOffset
            // Whitespace and comments prepare to no statement.
            guard let handle = preparation.handle else { continue }
            let statement = SQLiteStatement(handle: handle, database: database, sql: statementSQL)
            _ = try statement.run([], collectingRows: false)
        }
    }

    /// Runs one statement with `arguments` bound to its parameters in order, discarding
    /// any rows. The prepared statement is cached by SQL text.
    public func execute(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) {
        _ = try statement(for: sql).run(arguments, collectingRows: false)
    }

    /// Runs one statement and returns all its rows.
    public func query(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> [SQLiteRow] {
        try statement(for: sql).run(arguments, collectingRows: true)
    }

    /// Runs one statement and returns its first row, or nil when it returns none.
    public func queryRow(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> SQLiteRow? {
        try statement(for: sql).run(arguments, collectingRows: true, limit: 1).first
    }

    /// The first column of the first row, or `.null` when there is no row.
    public func scalar(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> SQLiteValue {
        guard let row = try queryRow(sql, arguments), !row.columnNames.isEmpty else { return .null }
        return row[0]
    }

    /// The cached statement for `sql`, prepared on first use. `sql` must hold exactly one
    /// statement: anything after it other than whitespace and comments traps.
    private func statement(for sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statementCache[sql] { return cached }
        let text = sql.utf8CString
        let preparation = SQLiteStatement.prepare(database: database, text: text, offset: 0)
        guard preparation.resultCode == SQLITE_OK else {
            throw SQLiteError(database: database, resultCode: preparation.resultCode, sql: sql)
        }
        guard let handle = preparation.handle else {
            preconditionFailure("no SQL statement in `\(sql)`")
        }
        let statement = SQLiteStatement(handle: handle, database: database, sql: sql)
        let rest = SQLiteStatement.prepare(database: database, text: text, offset: preparation.tailOffset)
        if let extra = rest.handle {
            sqlite3_finalize(extra)
            preconditionFailure("execute, query and scalar take one statement (use executeScript): `\(sql)`")
        }
        guard rest.resultCode == SQLITE_OK else {
            throw SQLiteError(database: database, resultCode: rest.resultCode, sql: sql)
        }
        if statementCache.count >= Self.statementCacheLimit { statementCache.removeAll() }
        statementCache[sql] = statement
        return statement
    }

    /// How many prepared statements are cached (for tests).
    var cachedStatementCount: Int { statementCache.count }

    // MARK: Transactions

    /// Runs body inside BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any thrown error (rethrown
    /// unchanged). On a read-only connection the transaction is DEFERRED: a consistent
    /// snapshot for several reads. Nested calls use a savepoint inside the outer transaction.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let nested = sqlite3_get_autocommit(database) == 0
        // One-statement texts go through execute(), whose prepared statements are cached:
        // the journal writer runs a transaction per group commit.
        if nested {
            try execute("SAVEPOINT flowd_nested")
        } else {
            try execute(options.readOnly ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE")
        }
        let result: T
        do {
            result = try body()
        } catch {
            rollBack(nested: nested)
            throw error
        }
        do {
            try execute(nested ? "RELEASE flowd_nested" : "COMMIT")
        } catch {
            rollBack(nested: nested)
            throw error
        }
        return result
    }

    /// Undoes the current transaction (or savepoint). Some errors (a full disk, an I/O
    /// error) have already rolled SQLite back; then there is nothing left to undo.
    private func rollBack(nested: Bool) {
        guard sqlite3_get_autocommit(database) == 0 else { return }
        if nested {
            try? executeScript("ROLLBACK TO flowd_nested")
            try? executeScript("RELEASE flowd_nested")
        } else {
            try? executeScript("ROLLBACK")
        }
    }

    /// Whether a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(database) == 0 }

    // MARK: Connection state

    /// The rowid of the last row this connection inserted.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(database) }

    /// How many rows the last INSERT, UPDATE or DELETE changed.
    public var changes: Int { Int(sqlite3_changes64(database)) }

    /// `PRAGMA user_version`: the schema version, 0 for a new database.
    public var userVersion: Int {
        get throws(SQLiteError) {
            Int(try scalar("PRAGMA user_version").intValue ?? 0)
        }
    }

    /// Sets `PRAGMA user_version` (inside the current transaction, if any).
    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        precondition(version >= 0 && version <= Int(Int32.max), "user_version \(version) out of range")
        // PRAGMA takes no bound parameters; the value is a checked integer.
        try executeScript("PRAGMA user_version = \(version)")
    }
}

@available(*, unavailable, message: "a SQLiteConnection belongs to one thread")
extension SQLiteConnection: Sendable {}

extension SQLiteError {
    /// This error, with `path` recorded when it has none yet.
    fileprivate func withPath(_ path: String) -> SQLiteError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }
}
