// SQLiteConnectionTests.swift: the SQLite wrapper against real database files in a
// temporary directory: WAL, value round trips, errors, transactions, readers and the
// statement cache.

import Foundation
import XCTest
@testable import DaemonCore

final class SQLiteConnectionTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowd-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        try FileManager.default.removeItem(at: directory)
    }

    private var databasePath: String { directory.appendingPathComponent("journal.db").path }

    private func openWriter() throws -> SQLiteConnection {
        try SQLiteConnection(path: databasePath)
    }

    private func expectSQLiteError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> SQLiteError? {
        do {
            try body()
            XCTFail("expected an SQLiteError", file: file, line: line)
            return nil
        } catch let error as SQLiteError {
            return error
        } catch {
            XCTFail("expected an SQLiteError, got \(error)", file: file, line: line)
            return nil
        }
    }

    func testOpenCreatesDatabaseInWALMode() throws {
        let connection = try openWriter()
        XCTAssertEqual(try connection.scalar("PRAGMA journal_mode"), .text("wal"))
        XCTAssertEqual(try connection.scalar("PRAGMA foreign_keys"), .integer(1))
        XCTAssertEqual(try connection.scalar("PRAGMA synchronous"), .integer(1))  // NORMAL
        try connection.executeScript("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
        try connection.execute("INSERT INTO runs (name) VALUES (?)", ["nightly"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: databasePath))
        XCTAssertTrue(FileManager.default.fileExists(atPath: databasePath + "-wal"))
        XCTAssertEqual(connection.path, databasePath)
    }

    func testDeleteJournalModeIsApplied() throws {
        var options = SQLiteOptions()
        options.journalMode = .delete
        options.synchronous = .full
        let connection = try SQLiteConnection(path: databasePath, options: options)
        XCTAssertEqual(try connection.scalar("PRAGMA journal_mode"), .text("delete"))
        XCTAssertEqual(try connection.scalar("PRAGMA synchronous"), .integer(2))
    }

    func testEveryValueTypeRoundTrips() throws {
        let connection = try openWriter()
        // No declared type: no affinity, so every value keeps its storage class.
        try connection.executeScript("CREATE TABLE items (position INTEGER PRIMARY KEY, value)")
        let values: [SQLiteValue] = [
            .null,
            .integer(Int64.max), .integer(Int64.min), .integer(0),
            .real(3.25), .real(-0.5),
            .text("héllo wörld 🌍 日本語"), .text("a\u{0}b"), .text(""),
            .blob([0, 1, 0, 255, 0]), .blob([]),
        ]
        for (position, value) in values.enumerated() {
            try connection.execute("INSERT INTO items (position, value) VALUES (?, ?)", [SQLiteValue(position), value])
        }
        let rows = try connection.query("SELECT value, typeof(value) AS kind FROM items ORDER BY position")
        XCTAssertEqual(rows.map { $0["value"] }, values)
        XCTAssertEqual(
            rows.map { $0.string("kind") },
            ["null", "integer", "integer", "integer", "real", "real", "text", "text", "text", "blob", "blob"])
        // Bound values compare equal inside SQL too, not only after the round trip.
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM items WHERE value = ?", ["a\u{0}b"]), .integer(1))
        XCTAssertEqual(try connection.scalar("SELECT length(value) FROM items WHERE position = 9"), .integer(5))
    }

    func testRowAccessorsConvertAndFindColumnsByName() throws {
        let connection = try openWriter()
        let row = try XCTUnwrap(connection.queryRow(
            "SELECT 42 AS Count, 2.5 AS ratio, 'text' AS label, x'00ff' AS bytes, NULL AS missing_value"))
        XCTAssertEqual(row.columnNames, ["Count", "ratio", "label", "bytes", "missing_value"])
        XCTAssertEqual(row.int("count"), 42)  // column names are case-insensitive
        XCTAssertEqual(row.double("Count"), 42)
        XCTAssertEqual(row.string("Count"), "42")
        XCTAssertEqual(row.double("ratio"), 2.5)
        XCTAssertNil(row.int("ratio"))
        XCTAssertEqual(row.string("label"), "text")
        XCTAssertEqual(row.blob("bytes"), [0, 255])
        XCTAssertNil(row.int("missing_value"))
        XCTAssertNil(row.string("missing_value"))
        XCTAssertEqual(row["no_such_column"], .null)
        XCTAssertEqual(row[2], .text("text"))
        XCTAssertNil(try connection.queryRow("SELECT 1 WHERE 0"))
        XCTAssertEqual(try connection.scalar("SELECT 1 WHERE 0"), .null)
    }

    func testConstraintErrorCarriesCodeMessageAndSQL() throws {
        let connection = try openWriter()
        try connection.executeScript("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        let insert = "INSERT INTO runs (id, name) VALUES (?, ?)"
        try connection.execute(insert, [1, "first"])
        let error = try XCTUnwrap(expectSQLiteError { try connection.execute(insert, [1, "again"]) })
        XCTAssertEqual(error.code, 19)
        XCTAssertEqual(error.extendedCode, 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
        XCTAssertTrue(error.isConstraint)
        XCTAssertFalse(error.isBusy || error.isReadOnly || error.isDiskFull)
        XCTAssertEqual(error.message, "UNIQUE constraint failed: runs.id")
        XCTAssertEqual(error.sql, insert)
        XCTAssertEqual(
            error.description,
            "SQLite error 19 (UNIQUE constraint failed: runs.id) in `INSERT INTO runs (id, name) VALUES (?, ?)`")
        // The failed statement was reset: the same cached statement works again.
        try connection.execute(insert, [2, "second"])
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM runs"), .integer(2))
        XCTAssertEqual(connection.lastInsertRowID, 2)
        try connection.execute("UPDATE runs SET name = 'renamed'")
        XCTAssertEqual(connection.changes, 2)
    }

    func testSyntaxErrorCarriesSQL() throws {
        let connection = try openWriter()
        let error = try XCTUnwrap(expectSQLiteError { _ = try connection.query("SELEC 1 FROM runs") })
        XCTAssertEqual(error.code, 1)
        XCTAssertEqual(error.sql, "SELEC 1 FROM runs")
        XCTAssertTrue(error.message.contains("syntax error"), error.message)
        XCTAssertTrue(error.description.contains("`SELEC 1 FROM runs`"), error.description)

        // In a script, the error names the statement that failed, and earlier ones ran.
        let scriptError = try XCTUnwrap(expectSQLiteError {
            try connection.executeScript("CREATE TABLE a (x);\n  INSERT INTO missing VALUES (1);\nCREATE TABLE b (y);")
        })
        XCTAssertEqual(scriptError.sql, "INSERT INTO missing VALUES (1);")
        XCTAssertEqual(scriptError.message, "no such table: missing")
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b')"), .integer(1))
    }

    func testTransactionCommitsOrRollsBackOnThrow() throws {
        struct Abort: Error, Equatable { var reason: String }
        let connection = try openWriter()
        try connection.executeScript("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")

        XCTAssertThrowsError(try connection.transaction {
            try connection.execute("INSERT INTO runs (name) VALUES ('lost')")
            throw Abort(reason: "step failed")
        }) { error in
            XCTAssertEqual(error as? Abort, Abort(reason: "step failed"))  // rethrown unchanged
        }
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM runs"), .integer(0))
        XCTAssertFalse(connection.isInTransaction)

        let identifier = try connection.transaction { () throws -> Int64 in
            try connection.execute("INSERT INTO runs (name) VALUES ('kept')")
            let kept = connection.lastInsertRowID
            // A nested transaction that fails undoes only its own work.
            _ = try? connection.transaction {
                try connection.execute("INSERT INTO runs (name) VALUES ('inner')")
                throw Abort(reason: "inner")
            }
            return kept
        }
        XCTAssertEqual(identifier, 1)
        let names = try connection.query("SELECT name FROM runs").map { $0.string("name") }
        XCTAssertEqual(names, ["kept"])
        XCTAssertFalse(connection.isInTransaction)
    }

    func testReaderSeesOnlyCommittedRowsAndCannotWrite() throws {
        let writer = try openWriter()
        try writer.executeScript("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
        var options = SQLiteOptions()
        options.readOnly = true
        let reader = try SQLiteConnection(path: databasePath, options: options)
        XCTAssertEqual(try reader.scalar("PRAGMA journal_mode"), .text("wal"))

        let error = try XCTUnwrap(expectSQLiteError { try reader.execute("INSERT INTO runs (name) VALUES ('x')") })
        XCTAssertTrue(error.isReadOnly, error.description)

        try writer.transaction {
            try writer.execute("INSERT INTO runs (name) VALUES ('pending')")
            // WAL: the reader is not blocked by the open write transaction and sees
            // only what was committed.
            XCTAssertEqual(try reader.scalar("SELECT count(*) FROM runs"), .integer(0))
        }
        XCTAssertEqual(try reader.scalar("SELECT name FROM runs"), .text("pending"))
        // A reader's transaction is a consistent snapshot.
        try reader.transaction {
            XCTAssertEqual(try reader.scalar("SELECT count(*) FROM runs"), .integer(1))
            try writer.execute("INSERT INTO runs (name) VALUES ('later')")
            XCTAssertEqual(try reader.scalar("SELECT count(*) FROM runs"), .integer(1))
        }
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM runs"), .integer(2))
    }

    func testSecondWriterGetsBusyWhenLockIsHeld() throws {
        let first = try openWriter()
        try first.executeScript("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
        var options = SQLiteOptions()
        options.busyTimeoutMilliseconds = 50
        let second = try SQLiteConnection(path: databasePath, options: options)
        try first.transaction {
            let error = try XCTUnwrap(expectSQLiteError { try second.execute("INSERT INTO runs DEFAULT VALUES") })
            XCTAssertTrue(error.isBusy, error.description)
        }
    }

    func testStatementCacheReusesOneStatementPerSQL() throws {
        let connection = try openWriter()
        try connection.executeScript("CREATE TABLE numbers (value INTEGER, label TEXT)")
        let initialCount = connection.cachedStatementCount
        try connection.executeScript("SELECT 1; SELECT 2")
        XCTAssertEqual(connection.cachedStatementCount, initialCount)  // scripts are not cached
        let insert = "INSERT INTO numbers (value, label) VALUES (?, ?)"
        try connection.transaction {
            for value in 1...1000 {
                try connection.execute(insert, [SQLiteValue(value), value.isMultiple(of: 2) ? "even" : nil])
            }
        }
        // The insert, plus the transaction's own BEGIN IMMEDIATE and COMMIT.
        XCTAssertEqual(connection.cachedStatementCount, initialCount + 3)
        let select = "SELECT count(*) AS count, sum(value) AS total FROM numbers WHERE label IS ?"
        for _ in 0..<3 {
            let even = try XCTUnwrap(connection.queryRow(select, ["even"]))
            XCTAssertEqual(even.int("count"), 500)
            XCTAssertEqual(even.int("total"), 250_500)
            // Bindings do not leak from one run into the next.
            XCTAssertEqual(try connection.queryRow(select, [nil])?.int("count"), 500)
        }
        XCTAssertEqual(connection.cachedStatementCount, initialCount + 4)
    }

    func testOpeningMissingFileWithoutCreateFailsWithPath() throws {
        var options = SQLiteOptions()
        options.create = false
        let error = try XCTUnwrap(expectSQLiteError { _ = try SQLiteConnection(path: self.databasePath, options: options) })
        XCTAssertEqual(error.code, 14)  // SQLITE_CANTOPEN
        XCTAssertFalse(error.isReadOnly)
        XCTAssertTrue(error.description.hasSuffix("on \(databasePath)"), error.description)
        XCTAssertFalse(FileManager.default.fileExists(atPath: databasePath))
    }

    func testOpeningInReadOnlyDirectoryReportsReadOnly() throws {
        try XCTSkipIf(getuid() == 0, "root can write to any directory")
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
        let error = try XCTUnwrap(expectSQLiteError { _ = try self.openWriter() })
        XCTAssertTrue(error.isReadOnly, error.description)
    }
}
