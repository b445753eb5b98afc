// RunJournalDeferredTests.swift: a deferred write (a spawned step's pid) joins the next
// commit, or gets its own shortly after when nothing else comes.

import Foundation
import XCTest
@testable import DaemonCore

final class RunJournalDeferredTests: XCTestCase {
    private var directory: String!
    private var path: String { directory + "/journal.sqlite" }
    /// Started, with run 1 committed.
    private var journal: RunJournal!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "flowd-deferred-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        journal = try RunJournal(path: path, synchronous: .normal)
        journal.start()
        let committed = DispatchSemaphore(value: 0)
        journal.submit([.runCreated(RunRecord(id: 1, workflow: "w", definitionHash: "h", triggerKind: "manual", triggerName: nil,
                                              spoolPath: nil, payload: .object([:]), createdAt: 1))]) { _ in committed.signal() }
        committed.wait()
    }

    override func tearDownWithError() throws {
        journal?.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    func testADeferredWriteCommitsOnItsOwnSoonAfter() throws {
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
        journal.submitDeferred([.runStatus(runID: 1, status: "waiting")])
        let committed = DispatchSemaphore(value: 0)
        journal.submit([.runStatus(runID: 1, status: "running")]) { _ in committed.signal() }
        XCTAssertEqual(committed.wait(timeout: .now() + 5), .success)
        let reader = try SQLiteConnection(path: path)
        XCTAssertEqual(try reader.scalar("SELECT status FROM runs WHERE id = 1").stringValue, "running",
                       "the deferred write was applied after the submission that came later")
    }
}
