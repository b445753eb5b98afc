// End to end: a step's process group outlives a kill -9 of flowd; the next start finds
// it by the pid and start time journaled at spawn, stops it (SIGTERM, then SIGKILL for
// what ignores it), and only then applies the recovery rules.

import DaemonCore
import Foundation
import XCTest

final class OrphanedProcessTests: XCTestCase {
    /// True when `pid` is gone or a zombie (its parent, the killed flowd, cannot reap it).
    func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }

    func pid(_ flowd: FlowdHarness, _ file: String) throws -> Int32 {
        let text = try String(contentsOfFile: flowd.path(file), encoding: .utf8)
        return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), "no pid in \(file)")
    }

    func testStepProcessGroupsLeftByAKilledDaemonAreStoppedBeforeRecovery() throws {
        let flowd = try FlowdHarness(workflows: [
            // Second attempt (after the restart) ends at once; the first leaves a sleep behind.
            "safe.yaml": """
                on: { spool: { format: raw } }
                steps:
                  - id: long
                    idempotent: true
                    run: |
                      test -f "$FLOWD_TRIGGER_FILE.pid" && exit 0
                      sleep 1000 & echo $! > "$FLOWD_TRIGGER_FILE.pid"; wait
                """,
            // Its sleep ignores SIGTERM: only the SIGKILL after the grace stops it.
            "stubborn.yaml": """
                on: { spool: { format: raw } }
                steps:
                  - id: long
                    run: |
                      (trap '' TERM; exec sleep 1000) & echo $! > "$FLOWD_TRIGGER_FILE.pid"; wait
                """,
        ])
        try flowd.start()
        try flowd.drop("x", workflow: "safe", name: "a")
        try flowd.drop("x", workflow: "stubborn", name: "b")
        try flowd.waitUntil("both steps left their sleep running") {
            flowd.exists("spool/active/safe/1.a.pid") && flowd.exists("spool/active/stubborn/2.b.pid")
        }
        let safeSleep = try pid(flowd, "spool/active/safe/1.a.pid")
        let stubbornSleep = try pid(flowd, "spool/active/stubborn/2.b.pid")
        try flowd.stop(signal: SIGKILL)
        XCTAssertFalse(isGone(safeSleep), "the step's process outlives kill -9 of flowd")
        XCTAssertFalse(isGone(stubbornSleep))

        try flowd.start()
        XCTAssertTrue(isGone(safeSleep), "stopped before flowd answers on its socket")
        XCTAssertTrue(isGone(stubbornSleep), "the SIGTERM-proof sleep got SIGKILL after the grace")

        // Then the recovery rules: the idempotent step runs again, the other waits for an operator.
        let safe = try flowd.waitForRun(1)
        XCTAssertEqual(safe["status"], "succeeded")
        XCTAssertEqual(safe["attempts"]?.arrayValue?.map { $0["status"] }, ["interrupted", "succeeded"])
        try flowd.waitUntil("run 2 is interrupted") { (try? flowd.flowadm("show", "2", "--json").json()["status"]) == "interrupted" }
        let log = flowd.log
        XCTAssertTrue(log.contains("run 1 step long attempt 1: stopped process group"), log)
        XCTAssertTrue(log.contains("run 2 step long attempt 1: stopped process group"), log)
        XCTAssertTrue(log.contains("(SIGTERM, then SIGKILL after 5s)"), log)
        XCTAssertEqual(flowd.flowadm("cancel", "2").status, 0)
        try flowd.stop()
    }

    /// kill -9 during a parallel foreach: the items' step processes are stopped at the
    /// next start too (SPEC 5). Their pids come from the item branches (negative keys):
    /// until the journal mapped them to the run, no row got them and the orphans kept
    /// running beside the idempotent step's re-run.
    func testParallelItemProcessesLeftByAKilledDaemonAreStopped() throws {
        let marks = NSTemporaryDirectory() + "orphan-items-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: marks) }
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { manual: true }
            vars: { names: [a, b] }
            steps:
              - id: each
                foreach: '{{ vars.names }}'
                parallel: 2
                do:
                  - id: work
                    idempotent: true
                    run: |
                      test -f \(marks)/{{ item }}.pid && exit 0
                      sleep 1000 & echo $! > \(marks)/{{ item }}.pid; wait
            """], configuration: "workers: 2\n")
        try flowd.start()
        _ = flowd.flowadm("trigger", "fan")
        try flowd.waitUntil("both items left their sleep running") {
            FileManager.default.fileExists(atPath: marks + "/a.pid") && FileManager.default.fileExists(atPath: marks + "/b.pid")
        }
        usleep(200_000)  // well past RunJournal.deferredDelay
        let pids = try ["a", "b"].map { item -> Int32 in
            let text = try String(contentsOfFile: marks + "/\(item).pid", encoding: .utf8)
            return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        defer { for pid in pids { kill(pid, SIGKILL) } }
        try flowd.stop(signal: SIGKILL)
        XCTAssertFalse(pids.contains(where: isGone))
        try flowd.start()
        for pid in pids {
            XCTAssertTrue(isGone(pid), "item process \(pid) left by the killed flowd is still running after the restart")
        }
        _ = try flowd.waitForRun(1)
        try flowd.stop()
    }
}
