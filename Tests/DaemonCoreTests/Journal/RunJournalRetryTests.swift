// RunJournalRetryTests.swift: the journal writer on a full disk. A small tmpfs holds
// the journal; a filler file takes its last byte. A batch that cannot commit is kept
// and retried (nothing dropped, its completion runs once, after the commit), health
// says since when and why, probes are answered between retries, and the writer
// recovers by itself once the filler is gone. A permanent error fails only its own
// submission; at shutdown a failing batch is given up after the grace. Needs root
// (mount); skips otherwise.

import Foundation
import Synchronization
import XCTest
@testable import DaemonCore

#if canImport(Glibc)
import Glibc
#endif

final class RunJournalRetryTests: XCTestCase {
    private var mountPoint: String!
    private var mounted = false

    override func setUpWithError() throws {
        guard geteuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        mountPoint = NSTemporaryDirectory() + "flowd-full-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let status = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint])
        guard status == 0 else { throw XCTSkip("cannot mount a tmpfs here (mount exited \(status))") }
        mounted = true
    }

    override func tearDownWithError() throws {
        if mounted { _ = Self.run("/bin/umount", ["-l", mountPoint]) }
        if let mountPoint { try? FileManager.default.removeItem(atPath: mountPoint) }
    }

    static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Writes `path` until the filesystem says ENOSPC; returns the bytes written.
    static func fill(_ path: String) throws -> Int {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0xAB, count: 4096)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
            if written < 0 {
                guard errno == ENOSPC else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                return total
            }
            total += written
        }
    }

    /// An event whose details take `bytes` bytes: bigger than what the WAL has room for.
    static func bigEvent(_ kind: String, bytes: Int = 256 * 1024) -> JournalWrite {
        .event(RunEvent(kind: kind, details: ["blob": .string(String(repeating: "x", count: bytes))]))
    }

    static func eventCount(_ journalPath: String, kind: String) throws -> Int64 {
        let reader = try SQLiteConnection(path: journalPath, options: { var options = SQLiteOptions(); options.readOnly = true; return options }())
        return try reader.scalar("SELECT COUNT(*) FROM run_events WHERE kind = ?", [.text(kind)]).intValue ?? -1
    }

    func testABatchOnAFullDiskIsKeptRetriedAndCommitsOnceSpaceReturns() throws {
        let journalPath = mountPoint + "/journal.sqlite"
        let journal = try RunJournal(path: journalPath, synchronous: .normal)
        let unhealthy = expectation(description: "health: not writable")
        unhealthy.assertForOverFulfill = false
        let recovered = expectation(description: "health: writable again")
        let reports = Mutex<[JournalHealth]>([])
        journal.observeHealth { health in
            reports.withLock { $0.append(health) }
            if health.isWritable { recovered.fulfill() } else { unhealthy.fulfill() }
        }
        journal.start()
        defer { journal.close(retryingFor: .seconds(1)) }

        let filler = mountPoint + "/filler"
        XCTAssertGreaterThan(try Self.fill(filler), 0)
        let completions = Mutex<[Result<Void, SQLiteError>]>([])
        let committed = expectation(description: "the kept batch committed")
        let submittedAt = ContinuousClock.now
        journal.submit([Self.bigEvent("kept")]) { outcome in
            completions.withLock { $0.append(outcome) }
            committed.fulfill()
        }
        wait(for: [unhealthy], timeout: 10)
        let health = journal.health
        XCTAssertFalse(health.isWritable)
        XCTAssertNotNil(health.notWritableSince)
        XCTAssertTrue(health.error?.contains("full") == true, "the error says the disk is full: \(health.error ?? "nil")")
        XCTAssertTrue(completions.withLock { $0.isEmpty }, "no completion before the commit")

        // The writer answers probes between its retries: it is degraded, not hung.
        let probed = expectation(description: "probe answered while retrying")
        journal.probe { probed.fulfill() }
        wait(for: [probed], timeout: 5)
        XCTAssertFalse(journal.health.isWritable)

        // Let it retry a few times, then give the space back.
        let retried = expectation(description: "three failed tries")
        retried.assertForOverFulfill = false
        journal.observeHealth { health in
            reports.withLock { $0.append(health) }
            if health.isWritable { recovered.fulfill() } else if health.retries >= 3 { retried.fulfill() }
        }
        wait(for: [retried], timeout: 10)
        let freedAt = ContinuousClock.now
        try FileManager.default.removeItem(atPath: filler)
        wait(for: [committed, recovered], timeout: 15)
        let recoveryTime = ContinuousClock.now - freedAt
        XCTAssertTrue(journal.health.isWritable)
        XCTAssertEqual(completions.withLock { $0.count }, 1, "the completion ran once")
        if case .failure(let error)? = completions.withLock({ $0.first }) { XCTFail("the kept batch failed: \(error)") }
        XCTAssertEqual(try Self.eventCount(journalPath, kind: "kept"), 1, "the write is in the journal exactly once")
        let retries = reports.withLock { $0.filter { !$0.isWritable }.map(\.retries).max() ?? 0 }
        XCTAssertGreaterThanOrEqual(retries, 3)
        // The backoff after three or more tries is at most 4 s (0.5, 1, 2, 4 ...), under the 10 s cap.
        XCTAssertLessThan(recoveryTime, .seconds(11))
        print("journal outage: \(ContinuousClock.now - submittedAt) in all, \(retries) failed tries, "
              + "commit \(recoveryTime) after the space came back")
    }

    func testAPermanentErrorFailsItsOwnSubmissionAndTheOthersCommit() throws {
        let journalPath = mountPoint + "/journal.sqlite"
        let journal = try RunJournal(path: journalPath, synchronous: .normal)
        let record = RunRecord(id: 7, workflow: "w", definitionHash: "h", triggerKind: "manual", triggerName: nil, spoolPath: nil,
                               payload: .object([:]), createdAt: WallClock.nowMicroseconds())
        let outcomes = Mutex<[String: Result<Void, SQLiteError>]>([:])
        let done = expectation(description: "three completions")
        done.expectedFulfillmentCount = 3
        // Submitted before start(): the writer takes all three as one batch.
        for (name, writes) in [("first", [JournalWrite.runCreated(record)]), ("duplicate", [.runCreated(record)]),
                               ("event", [.event(RunEvent(kind: "after"))])] {
            journal.submit(writes) { outcome in
                outcomes.withLock { $0[name] = outcome }
                done.fulfill()
            }
        }
        journal.start()
        wait(for: [done], timeout: 10)
        journal.close()
        let results = outcomes.withLock { $0 }
        if case .failure(let error)? = results["first"] { XCTFail("first: \(error)") }
        if case .failure(let error)? = results["event"] { XCTFail("event: \(error)") }
        guard case .failure(let error)? = results["duplicate"] else { return XCTFail("the duplicate run id was accepted") }
        XCTAssertTrue(error.isConstraint, "\(error)")
        XCTAssertEqual(try Self.eventCount(journalPath, kind: "after"), 1)
        XCTAssertTrue(journal.health.isWritable, "a constraint is not an outage")
    }

    func testAtShutdownAFailingBatchIsGivenUpAfterTheGrace() throws {
        let journal = try RunJournal(path: mountPoint + "/journal.sqlite", synchronous: .normal)
        journal.start()
        XCTAssertGreaterThan(try Self.fill(mountPoint + "/filler"), 0)
        let failed = expectation(description: "completion with the error")
        let outcome = Mutex<Result<Void, SQLiteError>?>(nil)
        journal.submit([Self.bigEvent("lost")]) { result in
            outcome.withLock { $0 = result }
            failed.fulfill()
        }
        let started = ContinuousClock.now
        journal.stopRetrying(after: .milliseconds(800))
        wait(for: [failed], timeout: 10)
        let waited = ContinuousClock.now - started
        journal.close()
        guard case .failure(let error)? = outcome.withLock({ $0 }) else { return XCTFail("the batch committed on a full disk") }
        XCTAssertTrue(error.isDiskFull, "\(error)")
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(700))
        XCTAssertLessThan(waited, .seconds(5))
    }
}
