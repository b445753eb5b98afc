// SQLiteMigratorTests.swift: migrations apply in order, once, each atomically, and a
// database from a newer flowd is refused untouched.

import Foundation
import XCTest
@testable import DaemonCore

final class SQLiteMigratorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowd-migrator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func openDatabase() throws -> SQLiteConnection {
        try SQLiteConnection(path: directory.appendingPathComponent("journal.db").path)
    }

    private let baseMigrations = [
        SQLiteMigration(name: "create_workflows", sql: "CREATE TABLE workflows (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"),
        // Depends on the first: fails if applied out of order.
        SQLiteMigration(name: "create_runs", sql: """
            CREATE TABLE runs (id INTEGER PRIMARY KEY, workflow_id INTEGER NOT NULL REFERENCES workflows(id));
            INSERT INTO workflows (name) VALUES ('seeded');
            """),
    ]

    func testMigrationsApplyInOrderAndSetUserVersion() throws {
        let connection = try openDatabase()
        let migrator = SQLiteMigrator(baseMigrations)
        XCTAssertEqual(try migrator.pendingMigrations(connection), ["create_workflows", "create_runs"])
        try migrator.migrate(connection)
        XCTAssertEqual(try connection.userVersion, 2)
        XCTAssertEqual(try migrator.pendingMigrations(connection), [])
        XCTAssertEqual(try connection.scalar("SELECT name FROM workflows"), .text("seeded"))
        try connection.execute("INSERT INTO runs (workflow_id) VALUES (1)")
    }

    func testSecondRunChangesNothingAndAppendedMigrationAppliesAlone() throws {
        let connection = try openDatabase()
        try SQLiteMigrator(baseMigrations).migrate(connection)
        try SQLiteMigrator(baseMigrations).migrate(connection)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM workflows"), .integer(1))
        XCTAssertEqual(try connection.userVersion, 2)

        let extended = SQLiteMigrator(baseMigrations + [
            SQLiteMigration(name: "add_run_status", sql: "ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'queued';"),
        ])
        XCTAssertEqual(try extended.pendingMigrations(connection), ["add_run_status"])
        try extended.migrate(connection)
        XCTAssertEqual(try connection.userVersion, 3)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM workflows"), .integer(1))
        try connection.execute("INSERT INTO runs (workflow_id) VALUES (1)")
        XCTAssertEqual(try connection.scalar("SELECT status FROM runs"), .text("queued"))
    }

    func testNewerDatabaseIsRefusedUntouched() throws {
        let connection = try openDatabase()
        try connection.setUserVersion(7)
        let migrator = SQLiteMigrator(baseMigrations + (3...5).map {
            SQLiteMigration(name: "step\($0)", sql: "CREATE TABLE t\($0) (x);")
        })
        XCTAssertThrowsError(try migrator.migrate(connection)) { error in
            XCTAssertEqual("\(error)", "journal schema version 7 is newer than this flowd (5)")
        }
        XCTAssertThrowsError(try migrator.pendingMigrations(connection))
        XCTAssertEqual(try connection.userVersion, 7)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM sqlite_schema"), .integer(0))
    }

    func testFailingMigrationRollsBackAndIsNamed() throws {
        let connection = try openDatabase()
        let migrator = SQLiteMigrator([
            baseMigrations[0],
            SQLiteMigration(name: "broken", sql: "CREATE TABLE steps (x); INSERT INTO nowhere VALUES (1);"),
        ])
        XCTAssertThrowsError(try migrator.migrate(connection)) { error in
            let migrationError = error as? SQLiteMigrationError
            XCTAssertEqual(migrationError?.sqliteError?.sql, "INSERT INTO nowhere VALUES (1);")
            XCTAssertTrue("\(error)".hasPrefix("journal migration 2 (broken) failed: SQLite error 1"), "\(error)")
        }
        // The first migration stays applied; the broken one left nothing behind.
        XCTAssertEqual(try connection.userVersion, 1)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'steps'"), .integer(0))
        XCTAssertEqual(try migrator.pendingMigrations(connection), ["broken"])
        XCTAssertFalse(connection.isInTransaction)
    }
}
