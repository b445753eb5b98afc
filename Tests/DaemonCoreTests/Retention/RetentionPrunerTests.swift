// RetentionPrunerTests.swift: retention against a real journal file and a real done/
// directory: which runs go, which stay, which files go, and a 100,000-run pass.

import Foundation
import Synchronization
import XCTest
@testable import DaemonCore

final class RetentionPrunerTests: XCTestCase {
    private var directory: String!
    private var journal: RunJournal!
    private var writer: SQLiteConnection!

    private var doneDirectory: String { directory + "/spool/done" }

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "flowd-retention-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/spool/done", withIntermediateDirectories: true)
        journal = try RunJournal(path: directory + "/journal.sqlite", synchronous: .normal)
        journal.start()
        // A second connection fills the journal quickly with SQL, as a long-lived daemon would have.
        writer = try SQLiteConnection(path: directory + "/journal.sqlite")
    }

    override func tearDownWithError() throws {
        writer = nil
        journal.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private let now = WallClock.nowMicroseconds()
    private let day: Int64 = 86_400_000_000

    private func insertRun(_ id: Int64, _ workflow: String, _ status: String, endedAt: Int64?, spoolPath: String? = nil,
                           replayOf: Int64? = nil) throws {
        try writer.execute("""
            INSERT INTO runs (id, workflow, definition_hash, status, trigger_kind, spool_path, payload, created_at, started_at, ended_at, replay_of)
            VALUES (?, ?, 'h', ?, 'spool', ?, '{}', ?, ?, ?, ?)
            """, [.integer(id), .text(workflow), .text(status), SQLiteValue(spoolPath), .integer(now - 40 * day),
                  .integer(now - 40 * day), SQLiteValue(endedAt), SQLiteValue(replayOf)])
        try writer.execute("""
            INSERT INTO step_attempts (run_id, step_index, step_id, attempt, status, started_at) VALUES (?, 0, 's', 1, 'succeeded', ?)
            """, [.integer(id), .integer(now - 40 * day)])
        try writer.execute("INSERT INTO run_events (at, run_id, kind) VALUES (?, ?, 'approved')", [.integer(now), .integer(id)])
    }

    private func runIDs() throws -> [Int64] {
        try writer.query("SELECT id FROM runs ORDER BY id").compactMap { $0.int("id") }
    }

    private func count(_ table: String) throws -> Int64 {
        try writer.scalar("SELECT COUNT(*) FROM \(table)").intValue ?? -1
    }

    private func touch(_ path: String, age: TimeInterval = 0) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("{}".utf8)))
        if age > 0 {
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: path)
        }
    }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    func testKeepsTheNewestFinishedRunsPerWorkflowAndNeverAnUnfinishedOne() throws {
        let done = doneDirectory
        let active = directory + "/spool/active"
        // Workflow a: finished 1, 2, 8..12 and one run in every unfinished state.
        try insertRun(1, "a", "succeeded", endedAt: now, spoolPath: done + "/a/1.first.json")
        try insertRun(2, "a", "failed", endedAt: now, spoolPath: active + "/a/2.racing.json")
        try insertRun(3, "a", "interrupted", endedAt: now - 90 * day)
        try insertRun(4, "a", "running", endedAt: nil, spoolPath: active + "/a/4.busy.json")
        try insertRun(5, "a", "waiting", endedAt: nil)
        try insertRun(6, "a", "queued", endedAt: nil)
        try insertRun(7, "a", "paused", endedAt: nil)
        try insertRun(8, "a", "cancelled", endedAt: now)
        for id: Int64 in 9...12 { try insertRun(id, "a", "succeeded", endedAt: now, spoolPath: done + "/a/\(id).f.json") }
        // Workflow b: two runs, under the count, but ended before max_age.
        try insertRun(13, "b", "succeeded", endedAt: now - 31 * day, spoolPath: done + "/b/13.old.json")
        try insertRun(14, "b", "failed", endedAt: now - 31 * day)
        // Workflow c: recent, kept; a replay of pruned run 13 (it keeps its link).
        try insertRun(15, "c", "succeeded", endedAt: now - day, replayOf: 13)
        for path in [done + "/a/1.first.json", done + "/a/10.f.json", done + "/a/11.f.json", done + "/a/12.f.json",
                     done + "/b/13.old.json", done + "/a/99.unknown-run.json", active + "/a/2.racing.json",
                     active + "/a/4.busy.json"] {
            try touch(path)
        }
        try touch(done + "/a/no-run-id.json", age: 40 * 86_400)
        try touch(done + "/a/fresh-no-run-id.json")
        try touch(directory + "/spool/rejected/a/77.refused.json", age: 40 * 86_400)

        let pruner = RetentionPruner(journal: journal, doneDirectory: done,
                                     policy: .init(maxAge: .seconds(30 * 86_400), maxRunsPerWorkflow: 3, batchSize: 2))
        let report = try XCTUnwrap(pruner.runPass(now: now))

        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(try runIDs(), [3, 4, 5, 6, 7, 10, 11, 12, 15])
        XCTAssertEqual(report.runs, 6)
        XCTAssertEqual(report.batches, 3, "batches of 2 runs")
        XCTAssertEqual(try count("step_attempts"), 9, "the pruned runs' attempts are gone, the others' kept")
        XCTAssertEqual(try count("run_events"), 9)
        XCTAssertFalse(exists(done + "/a/1.first.json"))
        XCTAssertFalse(exists(done + "/b/13.old.json"))
        XCTAssertFalse(exists(done + "/a/99.unknown-run.json"), "a done/ file whose run is not in the journal goes")
        XCTAssertFalse(exists(done + "/a/no-run-id.json"), "a done/ file without a run id goes once older than max_age")
        XCTAssertTrue(exists(done + "/a/fresh-no-run-id.json"))
        for kept in [done + "/a/10.f.json", done + "/a/11.f.json", done + "/a/12.f.json"] { XCTAssertTrue(exists(kept), kept) }
        XCTAssertTrue(exists(active + "/a/2.racing.json"), "nothing outside done/ is deleted")
        XCTAssertTrue(exists(active + "/a/4.busy.json"))
        XCTAssertTrue(exists(directory + "/spool/rejected/a/77.refused.json"))
        XCTAssertEqual(report.files, 4)
        XCTAssertEqual(try writer.scalar("SELECT replay_of FROM runs WHERE id = 15").intValue, 13)

        let second = try XCTUnwrap(pruner.runPass(now: now))
        XCTAssertEqual(second.runs, 0, "a second pass finds nothing left to prune")
        XCTAssertEqual(second.files, 0)
    }

    func testSelectionIsOldestFirstAndBoundedByTheBatch() throws {
        for id: Int64 in 1...10 { try insertRun(id, "a", "succeeded", endedAt: now) }
        let reader = try JournalReader(path: journal.path)
        XCTAssertEqual(try reader.prunableRuns(endedBefore: 0, keepPerWorkflow: 4, limit: 4).map(\.id), [1, 2, 3, 4])
        XCTAssertEqual(try reader.prunableRuns(endedBefore: 0, keepPerWorkflow: 4, limit: 100).map(\.id), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try reader.prunableRuns(endedBefore: now + 1, keepPerWorkflow: 100, limit: 3).map(\.id), [1, 2, 3])
        XCTAssertEqual(try reader.prunableRuns(endedBefore: now, keepPerWorkflow: 10, limit: 100), [])
    }

    func testAStoppedPrunerStartsNoPass() throws {
        try insertRun(1, "a", "succeeded", endedAt: now - 60 * day)
        let pruner = RetentionPruner(journal: journal, doneDirectory: doneDirectory,
                                     policy: .init(maxAge: .seconds(86_400), maxRunsPerWorkflow: 1))
        pruner.stop()
        XCTAssertNil(pruner.runPass(now: now))
        XCTAssertEqual(try runIDs(), [1])
    }

    /// Measures a pass over 100,000 finished runs (10 workflows, 2 attempts and an event
    /// each) keeping 100 per workflow; prints the total and the longest batch.
    func testPrunesOneHundredThousandRunsInSmallBatches() throws {
        try writer.transaction {
            try writer.executeScript("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                INSERT INTO runs (id, workflow, definition_hash, status, trigger_kind, spool_path, payload, created_at, started_at, ended_at)
                SELECT i, 'w' || (i % 10), 'h', 'succeeded', 'spool', NULL, '{"file":"payload"}', \(now), \(now), \(now) FROM n;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                INSERT INTO step_attempts (run_id, step_index, step_id, attempt, status, started_at, stdout_tail)
                SELECT i, s.k, 'step' || s.k, 1, 'succeeded', \(now), 'some output of a step' FROM n, (SELECT 0 AS k UNION ALL SELECT 1) s;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                INSERT INTO run_events (at, run_id, kind) SELECT \(now), i, 'approved' FROM n;
                """)
        }
        let pruner = RetentionPruner(journal: journal, doneDirectory: doneDirectory,
                                     policy: .init(maxAge: .seconds(30 * 86_400), maxRunsPerWorkflow: 100))
        // Meanwhile an "engine" commits a small write every 10 ms and times each commit:
        // its writes interleave with the batches instead of waiting for the whole pass.
        let engineLatencies = Mutex<[Duration]>([])
        let passDone = Mutex(false)
        let engine = Thread { [journal] in
            while !passDone.withLock({ $0 }) {
                let submitted = ContinuousClock.now
                let committed = DispatchSemaphore(value: 0)
                journal!.submit([.event(RunEvent(kind: "tick"))]) { _ in committed.signal() }
                committed.wait()
                engineLatencies.withLock { $0.append(ContinuousClock.now - submitted) }
                usleep(10_000)
            }
        }
        engine.start()
        let report = try XCTUnwrap(pruner.runPass(now: now))
        passDone.withLock { $0 = true }
        while engineLatencies.withLock({ $0.isEmpty }) { usleep(1000) }
        let latencies = engineLatencies.withLock { $0 }
        let longestEngineWait = latencies.max() ?? .zero
        XCTAssertGreaterThan(latencies.count, 10, "engine writes committed during the pass")
        XCTAssertLessThan(longestEngineWait, report.elapsed / 4, "no engine write waited for the whole pass")
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.runs, 99_000)
        XCTAssertEqual(try count("runs"), 1000)
        XCTAssertEqual(try count("step_attempts"), 2000)
        XCTAssertEqual(try count("run_events WHERE kind = 'approved'"), 1000)
        print("retention: \(latencies.count) engine writes during the pass, longest commit wait \(longestEngineWait.milliseconds) ms")
        print("retention: pruned \(report.runs) runs in \(report.elapsed.milliseconds) ms, \(report.batches) batches, "
              + "\(report.batchTime.milliseconds) ms of them in write transactions, longest batch \(report.longestBatch.milliseconds) ms")
    }
}
