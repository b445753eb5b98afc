// End to end: a full disk under the state directory (issue 5). The state directory is
// a small tmpfs; the spool is on another filesystem, so files stay in incoming/ only
// because flowd stops claiming, not because a rename failed. A filler file takes the
// last byte while files are being dropped: flowadm status and the metrics say the
// journal is not writable, new files are not claimed, a manual trigger is refused;
// once the filler is deleted flowd recovers by itself and every dropped file ends with
// exactly one succeeded run. Also: a read-only state directory fails the start with one
// clear line. Needs root (mount); skips otherwise.

import DaemonCore
import Foundation
import XCTest

final class FullDiskTests: XCTestCase {
    private var flowd: FlowdHarness?
    private var mountPoint: String?

    override func tearDownWithError() throws {
        if let flowd, flowd.daemon?.isRunning == true { try flowd.stop() }
        if let mountPoint { _ = run("/bin/umount", ["-l", mountPoint]) }
        flowd = nil
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Mounts a tmpfs with `options` as the harness's state directory.
    private func mountState(_ flowd: FlowdHarness, options: String) throws {
        guard geteuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        let state = flowd.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", state]) == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        mountPoint = state
    }

    /// Writes `path` until ENOSPC.
    private func fill(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0xAB, count: 4096)
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress!, $0.count) }) >= 0 {}
        XCTAssertEqual(errno, ENOSPC)
    }

    /// flowd with one spool workflow, its state directory on a 4 MiB tmpfs, started.
    private func startIngestOnASmallStateDisk(configuration: String? = nil) throws -> FlowdHarness {
        let flowd = try FlowdHarness(workflows: ["ingest.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: work
                run: echo "handled $FLOWD_TRIGGER_NAME"
            """], configuration: configuration)
        self.flowd = flowd
        try mountState(flowd, options: "size=4m")
        try flowd.start()
        return flowd
    }

    private func journalStatus(_ flowd: FlowdHarness) throws -> JSONValue {
        try flowd.flowadm("status", "--json").json()["journal"] ?? .null
    }

    func testAFullDiskStopsClaimingKeepsWhatItHasAndRecoversByItself() throws {
        let flowd = try startIngestOnASmallStateDisk()
        let incoming = flowd.path("spool/incoming/ingest")

        for index in 1...3 { try flowd.drop("before \(index)", workflow: "ingest", name: "before-\(index)") }
        try flowd.waitUntil("the first three runs succeeded") { try self.succeededNames(flowd).count == 3 }

        // The disk fills while files keep coming.
        try fill(flowd.path("state/filler"))
        for index in 1...4 { try flowd.drop("during \(index)", workflow: "ingest", name: "during-\(index)") }
        try flowd.waitUntil("flowd reports the journal not writable") {
            try self.journalStatus(flowd)["writable"] == false
        }
        let outageSeenAt = Date()
        let status = flowd.flowadm("status")
        XCTAssertTrue(status.standardOutput.contains("journal:   NOT WRITABLE since "), status.standardOutput)
        XCTAssertTrue(status.standardOutput.contains("full"), "the status says why: \(status.standardOutput)")
        XCTAssertTrue(flowd.flowadm("metrics").standardOutput.contains("\nflowd_journal_writable 0\n"))

        // Nothing new is taken: files wait in incoming/, a manual trigger is refused.
        for index in 1...3 { try flowd.drop("late \(index)", workflow: "ingest", name: "late-\(index)") }
        usleep(300_000)  // the inotify events reach the loop; the trigger below goes through it after them
        let trigger = flowd.flowadm("trigger", "ingest")
        XCTAssertEqual(trigger.status, 1)
        XCTAssertTrue(trigger.standardError.contains("not writable"), trigger.standardError)
        let replay = flowd.flowadm("replay", "1")
        XCTAssertEqual(replay.status, 1)
        XCTAssertTrue(replay.standardError.contains("not writable"), replay.standardError)
        let waiting = try FileManager.default.contentsOfDirectory(atPath: incoming)
        XCTAssertEqual(Set(waiting.filter { $0.hasPrefix("late-") }), ["late-1", "late-2", "late-3"],
                       "files dropped during the outage are not claimed")
        XCTAssertTrue(flowd.daemon?.isRunning == true)

        // The outage lasts a few backoff rounds (0.5 s, 1 s, 2 s ...); space returns and
        // flowd recovers without help.
        try flowd.waitUntil("four failed commits", timeout: 20) { (try self.journalStatus(flowd)["retries"]?.intValue ?? 0) >= 4 }
        let retries = try journalStatus(flowd)["retries"]?.intValue ?? 0
        try FileManager.default.removeItem(atPath: flowd.path("state/filler"))
        let freedAt = Date()
        try flowd.waitUntil("the journal is writable again", timeout: 20) { try self.journalStatus(flowd)["writable"] == true }
        let recovery = Date().timeIntervalSince(freedAt)
        try flowd.waitUntil("every dropped file has its run", timeout: 30) {
            try self.succeededNames(flowd).count == 10
        }
        let names = try runNames(flowd)
        let expected = (1...3).map { "before-\($0)" } + (1...4).map { "during-\($0)" } + (1...3).map { "late-\($0)" }
        XCTAssertEqual(names.sorted(), expected.sorted(), "exactly one run per dropped file, no other")
        XCTAssertEqual(try succeededNames(flowd).sorted(), expected.sorted())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: incoming), [])
        try flowd.waitUntil("every file moved to done/") {
            (try? FileManager.default.contentsOfDirectory(atPath: flowd.path("spool/done/ingest")).count) == 10
        }
        XCTAssertTrue(flowd.flowadm("status").standardOutput.contains("journal:   writable"))
        XCTAssertTrue(flowd.flowadm("metrics").standardOutput.contains("\nflowd_journal_writable 1\n"))
        let log = flowd.log
        XCTAssertEqual(log.components(separatedBy: "journal not writable:").count - 1, 1, "one error on the way down:\n\(log)")
        XCTAssertEqual(log.components(separatedBy: "journal writable again after").count - 1, 1, "one notice on the way up")
        print("full disk: outage seen for \(String(format: "%.1f", freedAt.timeIntervalSince(outageSeenAt))) s, "
              + "\(retries) failed commits before the space came back, recovered \(String(format: "%.2f", recovery)) s after")
        if ProcessInfo.processInfo.environment["FLOWD_TEST_SHOW_LOG"] != nil { print(log) }
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testAStopDuringTheOutageEndsWithinTheGraceAndTheClaimedFileGetsItsRunAfterARestart() throws {
        let flowd = try startIngestOnASmallStateDisk(configuration: "shutdown_grace: 2s\n")
        try fill(flowd.path("state/filler"))
        try flowd.drop("a", workflow: "ingest", name: "a")
        try flowd.waitUntil("flowd reports the journal not writable") { try self.journalStatus(flowd)["writable"] == false }
        try flowd.waitUntil("the file is claimed") { flowd.exists("spool/active/ingest/1.a") }
        let stopping = Date()
        XCTAssertEqual(try flowd.stop(timeout: 20), 0)
        let stopTime = Date().timeIntervalSince(stopping)
        XCTAssertLessThan(stopTime, 12, "the writer gives up after shutdown_grace (2s)")
        XCTAssertTrue(flowd.exists("spool/active/ingest/1.a"), "the claimed file is kept in active/")

        try FileManager.default.removeItem(atPath: flowd.path("state/filler"))
        try flowd.start()
        try flowd.waitUntil("the claimed file has its run") { try self.succeededNames(flowd) == ["a"] }
        XCTAssertEqual(try runNames(flowd), ["a"], "exactly one run")
        print("full disk: stop during the outage took \(String(format: "%.1f", stopTime)) s (shutdown_grace 2s)")
    }

    func testWatchdogPingsGoOnAndStatusSaysSoWhileTheWriterRetries() throws {
        let flowd = try FlowdHarness(workflows: ["ingest.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: work
                run: echo "handled $FLOWD_TRIGGER_NAME"
            """])
        self.flowd = flowd
        try mountState(flowd, options: "size=4m")
        let notify = try NotifySocketListener()
        flowd.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil]
        try flowd.start()
        _ = try notify.next(containing: "READY=1", timeout: 20, log: flowd.log)
        try fill(flowd.path("state/filler"))
        try flowd.drop("a", workflow: "ingest", name: "a")
        let status = try notify.next(containing: "STATUS=JOURNAL NOT WRITABLE (", timeout: 15, log: flowd.log)
        XCTAssertTrue(status.contains("full"), status)
        let first = notify.received.count
        notify.collect(for: 1.5)
        let pings = notify.received[first...].filter { $0.text == "WATCHDOG=1" }
        XCTAssertGreaterThanOrEqual(pings.count, 5, "a retrying writer is alive: pings go on (one per 200 ms)")
        XCTAssertEqual(try journalStatus(flowd)["writable"], false, "still retrying while the pings went on")
        try FileManager.default.removeItem(atPath: flowd.path("state/filler"))
        try flowd.waitUntil("STATUS= loses its prefix", timeout: 20) {
            let last = notify.received.last { $0.text.contains("STATUS=") }
            return last.map { !$0.text.contains("JOURNAL NOT WRITABLE") } ?? false
        }
        try flowd.waitUntil("the file's run succeeded") { try self.succeededNames(flowd) == ["a"] }
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testAReadOnlyStateDirectoryFailsTheStartWithOneClearLine() throws {
        let flowd = try FlowdHarness(workflows: [:])
        self.flowd = flowd
        try mountState(flowd, options: "ro,size=1m")
        let result = flowd.run(flowd.binaries.flowd, ["--root", flowd.root])
        XCTAssertEqual(result.status, 1)
        let lines = result.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("the state directory \(flowd.path("state")) is not writable: Read-only file system"),
                      result.standardError)
    }

    private func runs(_ flowd: FlowdHarness) throws -> [JSONValue] {
        try flowd.flowadm("runs", "--json", "--limit", "100").json()["runs"]?.arrayValue ?? []
    }

    private func runNames(_ flowd: FlowdHarness) throws -> [String] {
        try runs(flowd).compactMap { $0["trigger"]?["name"]?.stringValue }
    }

    private func succeededNames(_ flowd: FlowdHarness) throws -> [String] {
        try runs(flowd).filter { $0["status"] == "succeeded" }.compactMap { $0["trigger"]?["name"]?.stringValue }
    }
}
