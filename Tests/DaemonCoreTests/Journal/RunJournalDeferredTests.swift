// RunJournalDeferredTests.swift: a deferred write (a spawned step's pid) joins the next
// commit, or gets its own shortly after when nothing else comes.

import Foundation
import Synchronization
import XCTest
@testable import DaemonCore

final class RunJournalDeferredTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "flowd-deferred-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    private static func record(_ id: Int64) -> RunRecord {
        RunRecord(id: id, workflow: "w", definitionHash: "h", triggerKind: "manual", triggerName: "run \(id)", spoolPath: nil,
                  payload: ["padding": .string(String(repeating: "x", count: 2000))], createdAt: id)
    }

    /// Submits `count` runs one commit each (each waits for the one before).
    private static func commitOneByOne(_ journal: RunJournal, ids: ClosedRange<Int64>) {
        for id in ids {
            let committed = DispatchSemaphore(value: 0)
            journal.submit([.runCreated(record(id))]) { _ in committed.signal() }
            committed.wait()
        }
    }

    func testADeferredWriteCommitsOnItsOwnSoonAfter() throws {
        let path = directory + "/journal.sqlite"
        let journal = try RunJournal(path: path, synchronous: .normal)
        journal.start()
        defer { journal.close() }
        Self.commitOneByOne(journal, ids: 1...1)
        journal.submitDeferred([.runStatus(runID: 1, status: "waiting")])
        let reader = try SQLiteConnection(path: path)
        let deadline = Date(timeIntervalSinceNow: 5)
        var status = ""
        while Date() < deadline {
            status = try reader.scalar("SELECT status FROM runs WHERE id = 1").stringValue ?? ""
            if status == "waiting" { break }
            usleep(1000)
        }
        XCTAssertEqual(status, "waiting", "a deferred write with nothing to join was never committed")
    }

    func testADeferredWriteKeepsItsPlaceBeforeALaterSubmission() throws {
        let path = directory + "/journal.sqlite"
        let journal = try RunJournal(path: path, synchronous: .normal)
        journal.start()
        defer { journal.close() }
        Self.commitOneByOne(journal, ids: 1...1)
        journal.submitDeferred([.runStatus(runID: 1, status: "waiting")])
        let committed = DispatchSemaphore(value: 0)
        journal.submit([.runStatus(runID: 1, status: "running")]) { _ in committed.signal() }
        XCTAssertEqual(committed.wait(timeout: .now() + 5), .success)
        let reader = try SQLiteConnection(path: path)
        XCTAssertEqual(try reader.scalar("SELECT status FROM runs WHERE id = 1").stringValue, "running",
                       "the deferred write was applied after the submission that came later")
    }
}
