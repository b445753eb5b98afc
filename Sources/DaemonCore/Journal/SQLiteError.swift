// SQLiteError.swift: the one error type of the SQLite layer.
//
// Every failure of a SQLite call becomes an SQLiteError carrying the primary and extended
// result codes, sqlite3_errmsg's text and, when a statement was involved, its SQL (or, for
// a failed open, the database path). Callers classify failures with the `is...` properties
// (disk full, read-only, busy, constraint) instead of comparing raw codes.

import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed SQLite call: its result codes, SQLite's message and the SQL involved.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`extendedCode & 0xff`), e.g. 19 for SQLITE_CONSTRAINT.
    public var code: Int32
    /// The extended result code, e.g. 2067 for SQLITE_CONSTRAINT_UNIQUE.
    public var extendedCode: Int32
    /// The text of `sqlite3_errmsg`, e.g. "UNIQUE constraint failed: runs.id".
    public var message: String
    /// The statement that failed, when there was one.
    public var sql: String?
    /// The database file, for failures to open it.
    public var path: String?
    /// Set when an open failed with SQLITE_CANTOPEN because the directory is not writable.
    var directoryIsReadOnly: Bool = false

    /// Builds an error from raw codes; `code` is derived from `extendedCode`.
    public init(extendedCode: Int32, message: String, sql: String? = nil, path: String? = nil) {
        self.code = extendedCode & 0xff
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
        self.path = path
    }

    /// The database or filesystem is full (SQLITE_FULL).
    public var isDiskFull: Bool { code == SQLITE_FULL }

    /// A write was refused because the database, the connection or its directory is
    /// read-only (SQLITE_READONLY, or SQLITE_CANTOPEN on a directory flowd cannot write).
    public var isReadOnly: Bool {
        code == SQLITE_READONLY || (code == SQLITE_CANTOPEN && directoryIsReadOnly)
    }

    /// Another connection holds a conflicting lock (SQLITE_BUSY or SQLITE_LOCKED).
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    /// A failure that may go away by itself, so a write is worth trying again: the disk
    /// is full (SQLITE_FULL), an I/O error (SQLITE_IOERR), the file or its directory is
    /// read-only or cannot be opened (SQLITE_READONLY, SQLITE_CANTOPEN), a lock is held
    /// (SQLITE_BUSY, SQLITE_LOCKED), memory ran out (SQLITE_NOMEM), or the WAL lock
    /// protocol failed (SQLITE_PROTOCOL).
    public var isTransient: Bool {
        [SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM,
         SQLITE_PROTOCOL].contains(code)
    }

    /// A UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint failed (SQLITE_CONSTRAINT).
    public var isConstraint: Bool { code == SQLITE_CONSTRAINT }

    /// E.g. "SQLite error 19 (UNIQUE constraint failed: runs.id) in `INSERT INTO runs ...`".
    public var description: String {
        var text = "SQLite error \(code) (\(message))"
        if let sql { text += " in `\(Self.abbreviated(sql))`" }
        if let path { text += " on \(path)" }
        return text
    }

    /// The SQL on one line, cut after 300 characters so that a log line stays readable.
    private static func abbreviated(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        let line = words.joined(separator: " ")
        guard line.count > 300 else { return line }
        return String(line.prefix(300)) + " ..."
    }
}

extension SQLiteError {
    /// The error for `resultCode` returned by a call on `database`, with SQLite's message.
    /// Extended result codes are enabled on every connection, so `resultCode` is already
    /// extended when it comes from a statement; otherwise the connection's is used.
    init(database: OpaquePointer?, resultCode: Int32, sql: String? = nil, path: String? = nil) {
        var extended = resultCode
        var message = String(cString: sqlite3_errstr(resultCode))
        if let database {
            let connectionCode = sqlite3_extended_errcode(database)
            if extended == resultCode & 0xff, connectionCode & 0xff == resultCode {
                extended = connectionCode
            }
            if connectionCode & 0xff == resultCode & 0xff {
                message = String(cString: sqlite3_errmsg(database))
            }
        }
        self.init(extendedCode: extended, message: message, sql: sql, path: path)
    }

    /// An error flowd raises itself about a connection (a pragma that did not take).
    static func misuse(_ message: String, sql: String? = nil, path: String? = nil) -> SQLiteError {
        SQLiteError(extendedCode: SQLITE_ERROR, message: message, sql: sql, path: path)
    }

    /// Whether the directory holding `path` refuses writes to this process.
    static func directoryIsNotWritable(for path: String) -> Bool {
        var directory = path
        if let slash = directory.lastIndex(of: "/") {
            directory = String(directory[..<slash])
            if directory.isEmpty { directory = "/" }
        } else {
            directory = "."
        }
        do {
            try systemCall("access", directory) { access(directory, W_OK) }
            return false
        } catch {
            return error.errno == EACCES || error.errno == EROFS || error.errno == EPERM
        }
    }
}
