// SQLiteStatement.swift: one prepared statement, owned by the connection that made it.
//
// A SQLiteStatement wraps a sqlite3_stmt and finalizes it in deinit. It is internal: the
// connection caches statements by SQL text and never hands them out, so no C pointer leaves
// the SQLite files. Binding the wrong number of arguments is a programmer error and traps;
// failures to bind or step throw SQLiteError with the statement's SQL. After every run the
// statement is reset and its bindings cleared, whether the run succeeded or not.

import CSQLite
import Foundation

/// SQLITE_TRANSIENT: SQLite copies bound text and blobs before the bind call returns.
private var transientDestructor: sqlite3_destructor_type {
    unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// The outcome of preparing the statement that starts at a byte offset of some SQL.
struct SQLitePreparation {
    /// SQLITE_OK or the error code.
    var resultCode: Int32
    /// The statement, nil on error or when only whitespace and comments were left.
    var handle: OpaquePointer?
    /// Where the next statement starts (the end of the text when there is none).
    var tailOffset: Int
}

/// A prepared statement. Used only by SQLiteConnection, on the connection's thread.
final class SQLiteStatement {
    /// The sqlite3_stmt, finalized in deinit.
    let handle: OpaquePointer
    /// The connection's sqlite3 handle, which outlives this statement: the connection
    /// drops its statements before closing.
    let database: OpaquePointer
    /// The statement's SQL text, for error messages.
    let sql: String
    /// How many arguments a run must bind.
    let parameterCount: Int

    /// Adopts an already prepared `handle`.
    init(handle: OpaquePointer, database: OpaquePointer, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
        self.parameterCount = Int(sqlite3_bind_parameter_count(handle))
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Prepares the statement that starts at byte `offset` of the NUL-terminated `text`.
    static func prepare(database: OpaquePointer, text: ContiguousArray<CChar>, offset: Int) -> SQLitePreparation {
        text.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                return SQLitePreparation(resultCode: SQLITE_OK, handle: nil, tailOffset: 0)
            }
            let start = base + offset
            var handle: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            // The length excludes the terminating NUL; -1 would make SQLite scan for it.
            let length = Int32(clamping: buffer.count - 1 - offset)
            let code = sqlite3_prepare_v2(database, start, length, &handle, &tail)
            let tailOffset = tail.map { $0 - base } ?? buffer.count - 1
            return SQLitePreparation(resultCode: code, handle: handle, tailOffset: tailOffset)
        }
    }

    /// The SQL text between two byte offsets of `text`, trimmed of surrounding whitespace.
    static func sqlText(_ text: ContiguousArray<CChar>, from start: Int, to end: Int) -> String {
        let bytes = text[start..<max(start, min(end, text.count - 1))].map { UInt8(bitPattern: $0) }
        let string = String(decoding: bytes, as: UTF8.self)
        return string.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Binds `arguments`, steps to the end, and returns the rows when `collectingRows`.
    /// Always leaves the statement reset with no bindings.
    func run(_ arguments: [SQLiteValue], collectingRows: Bool, limit: Int = .max) throws(SQLiteError) -> [SQLiteRow] {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(arguments)
        var rows: [SQLiteRow] = []
        var columnNames: [String]?
        while true {
            let code = sqlite3_step(handle)
            switch code {
            case SQLITE_DONE:
                return rows
            case SQLITE_ROW:
                guard collectingRows else { continue }
                let names = columnNames ?? readColumnNames()
                columnNames = names
                rows.append(SQLiteRow(columnNames: names, values: readValues(count: names.count)))
                if rows.count >= limit { return rows }
            default:
                throw SQLiteError(database: database, resultCode: code, sql: sql)
            }
        }
    }

    private func bind(_ arguments: [SQLiteValue]) throws(SQLiteError) {
        precondition(
            arguments.count == parameterCount,
            "statement takes \(parameterCount) arguments, \(arguments.count) given: \(sql)")
        for (position, argument) in arguments.enumerated() {
            let index = Int32(position + 1)
            let code: Int32
            switch argument {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let number):
                code = sqlite3_bind_int64(handle, index, number)
            case .real(let number):
                code = sqlite3_bind_double(handle, index, number)
            case .text(let text):
                // withCString never yields a null pointer, so "" binds as empty text.
                let length = UInt64(text.utf8.count)
                code = text.withCString { pointer in
                    sqlite3_bind_text64(handle, index, pointer, length, transientDestructor, UInt8(SQLITE_UTF8))
                }
            case .blob(let bytes):
                // A null pointer would bind NULL, so an empty blob is bound as a zero blob.
                if bytes.isEmpty {
                    code = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    code = bytes.withUnsafeBytes { buffer in
                        sqlite3_bind_blob64(handle, index, buffer.baseAddress, UInt64(buffer.count), transientDestructor)
                    }
                }
            }
            guard code == SQLITE_OK else {
                throw SQLiteError(database: database, resultCode: code, sql: sql)
            }
        }
    }

    private func readColumnNames() -> [String] {
        (0..<sqlite3_column_count(handle)).map { column in
            sqlite3_column_name(handle, column).map { String(cString: $0) } ?? "column\(column)"
        }
    }

    private func readValues(count: Int) -> [SQLiteValue] {
        (0..<Int32(count)).map { column in
            switch sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER:
                return .integer(sqlite3_column_int64(handle, column))
            case SQLITE_FLOAT:
                return .real(sqlite3_column_double(handle, column))
            case SQLITE_TEXT:
                // Ask for the pointer first, then the length, as SQLite documents.
                let pointer = sqlite3_column_text(handle, column)
                let length = Int(sqlite3_column_bytes(handle, column))
                guard let pointer else { return .text("") }
                return .text(String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self))
            case SQLITE_BLOB:
                let pointer = sqlite3_column_blob(handle, column)
                let length = Int(sqlite3_column_bytes(handle, column))
                guard let pointer, length > 0 else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: pointer, count: length)))
            default:
                return .null
            }
        }
    }
}
