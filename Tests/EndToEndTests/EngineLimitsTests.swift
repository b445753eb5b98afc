// End to end: retries, timeouts, waits that hold no worker, concurrency, rate limits,
// fairness, manual triggers and cancellation, through the real daemon.

import DaemonCore
import Foundation
import XCTest

final class EngineLimitsTests: XCTestCase {
    func attempts(_ run: JSONValue) -> [JSONValue] { run["attempts"]?.arrayValue ?? [] }

    func microseconds(_ value: JSONValue?) -> Int64 { value?.stringValue.flatMap(WallClock.parseRFC3339) ?? 0 }

    func testRetriesBackOffAndAreJournaledWithReasons() throws {
        let flowd = try FlowdHarness(workflows: ["retry.yaml": """
            on: { spool: { format: raw } }
            retry: { max_attempts: 3, initial: 200ms }
            steps:
              - id: second-time-lucky
                run: test -f "$FLOWD_TRIGGER_FILE.seen" || { touch "$FLOWD_TRIGGER_FILE.seen"; exit 1; }
              - id: hopeless
                run: exit 3
                retry: { max_attempts: 5, initial: 10ms, non_retryable: [3] }
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "retry", name: "job")
        let run = try flowd.waitForRun(1)
        let steps = attempts(run)
        XCTAssertEqual(steps.map { $0["step"] }, ["second-time-lucky", "second-time-lucky", "hopeless"])
        XCTAssertEqual(steps.map { $0["attempt"] }, [1, 2, 1])
        XCTAssertEqual(steps.map { $0["status"] }, ["failed", "succeeded", "failed"])
        XCTAssertEqual(steps[0]["retry_reason"], "attempt 2 of 3 in 200ms")
        XCTAssertEqual(steps[0]["retry_expected"], true)
        XCTAssertGreaterThanOrEqual(microseconds(steps[1]["started_at"]) - microseconds(steps[0]["ended_at"]), 190_000,
                                    "the second attempt waits for the backoff")
        XCTAssertEqual(steps[2]["retry_reason"], "3 is non-retryable; no further attempt")
        XCTAssertEqual(steps[2]["retry_expected"], false)
        XCTAssertEqual(run["status"], "failed")
    }

    func testStepTimeoutKillsTheWholeProcessGroupAndRunTimeoutFailsTheRun() throws {
        let flowd = try FlowdHarness(workflows: [
            "stuck.yaml": """
                on: { spool: { format: raw } }
                steps:
                  - id: hangs
                    run: sleep 1000 & echo $! > "$FLOWD_TRIGGER_FILE.pid"; wait
                    timeout: 300ms
                """,
            "slow.yaml": """
                on: { spool: { format: raw } }
                timeout: 400ms
                steps:
                  - id: naps
                    run: sleep 30
                on_failure:
                  - id: note
                    run: echo "gave up at {{ run.failed_step }}"
                """,
        ])
        try flowd.start()
        try flowd.drop("x", workflow: "stuck", name: "job")
        let stuck = try flowd.waitForRun(1)
        XCTAssertEqual(attempts(stuck).first?["status"], "timed_out")
        XCTAssertEqual(attempts(stuck).first?["error"], "timed out after 300ms")
        let pidText = try String(contentsOfFile: flowd.path("spool/active/stuck/1.job.pid"), encoding: .utf8)
        let grandchild = try XCTUnwrap(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        try flowd.waitUntil("the grandchild sleep is gone") { kill(grandchild, 0) != 0 }

        try flowd.drop("x", workflow: "slow", name: "job")
        let slow = try flowd.waitForRun(2)
        XCTAssertEqual(slow["status"], "failed")
        XCTAssertEqual(slow["error"], "the run timed out after 400ms")
        XCTAssertEqual(attempts(slow).map { $0["status"] }, ["cancelled", "succeeded"])
        XCTAssertEqual(attempts(slow).last?["stdout"], "gave up at naps\n")
        XCTAssertLessThan(microseconds(slow["ended_at"]) - microseconds(slow["started_at"]), 10_000_000)
    }

    func testSleepingRunsHoldNoWorker() throws {
        let flowd = try FlowdHarness(
            workflows: [
                "napper.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: nap\n    sleep: 3s\n",
                "quick.yaml": "on: { spool: { format: raw } }\nconcurrency: 5\nsteps:\n  - id: go\n    run: echo quick\n",
            ],
            configuration: "workers: 1\n")
        try flowd.start()
        try flowd.drop("x", workflow: "napper", name: "one")
        try flowd.waitUntil("the nap is waiting") { (try? flowd.flowadm("status", "--json").json()["waiting"]) == 1 }
        for index in 1...3 { try flowd.drop("x", workflow: "quick", name: "q\(index)") }
        for id in 2...4 { XCTAssertEqual(try flowd.waitForRun(id)["status"], "succeeded") }
        let napper = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(napper["status"], "waiting", "the sleeper is still asleep while three quick runs used the only worker")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
    }

    func testConcurrencyRateLimitAndFairness() throws {
        let flowd = try FlowdHarness(
            workflows: [
                "serial.yaml": "on: { spool: { format: raw } }\nconcurrency: 1\nsteps:\n  - id: s\n    run: sleep 0.2\n",
                "limited.yaml": "on: { spool: { format: raw } }\nconcurrency: 10\nrate_limit: 2/s\nsteps:\n  - id: s\n    run: 'true'\n",
            ],
            configuration: "workers: 2\n")
        try flowd.start()
        for index in 1...3 { try flowd.drop("x", workflow: "serial", name: "s\(index)") }
        for index in 1...4 { try flowd.drop("x", workflow: "limited", name: "l\(index)") }
        var runs: [JSONValue] = []
        try flowd.waitUntil("all seven runs end", timeout: 20) {
            runs = (try? flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue) ?? []
            return runs.count == 7 && runs.allSatisfy { $0["status"] == "succeeded" }
        }
        let serial = runs.filter { $0["workflow"] == "serial" }.sorted { microseconds($0["started_at"]) < microseconds($1["started_at"]) }
        for (earlier, later) in zip(serial, serial.dropFirst()) {
            XCTAssertGreaterThanOrEqual(microseconds(later["started_at"]), microseconds(earlier["ended_at"]), "concurrency: 1 never overlaps")
        }
        let limited = runs.filter { $0["workflow"] == "limited" }.map { microseconds($0["started_at"]) }.sorted()
        XCTAssertGreaterThanOrEqual(limited[2] - limited[0], 950_000, "the third start waits for the 1 s window")
    }

    func testBigQueueDoesNotStarveAnotherWorkflow() throws {
        let flowd = try FlowdHarness(
            workflows: [
                "bulk.yaml": "on: { spool: { format: raw } }\nconcurrency: 100\nsteps:\n  - id: s\n    run: sleep 0.05\n",
                "single.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: s\n    run: 'true'\n",
            ],
            configuration: "workers: 1\n")
        try FileManager.default.createDirectory(atPath: flowd.path("spool/incoming/bulk"), withIntermediateDirectories: true)
        for index in 0..<40 {
            try "x".write(toFile: flowd.path("spool/incoming/bulk/b\(index)"), atomically: true, encoding: .utf8)
        }
        try flowd.start()
        try flowd.drop("x", workflow: "single", name: "one")
        var single: JSONValue = .null
        try flowd.waitUntil("the single run ends", timeout: 20) {
            let runs = (try? flowd.flowadm("runs", "--workflow", "single", "--json").json()["runs"]?.arrayValue) ?? []
            single = runs.first ?? .null
            return single["status"] == "succeeded"
        }
        let bulk = try flowd.flowadm("runs", "--workflow", "bulk", "--limit", "100", "--json").json()["runs"]?.arrayValue ?? []
        let bulkStartedBefore = bulk.filter { microseconds($0["started_at"]) != 0 && microseconds($0["started_at"]) < microseconds(single["started_at"]) }
        XCTAssertLessThan(bulkStartedBefore.count, 40, "the single run must not wait for the whole bulk queue")
        XCTAssertLessThanOrEqual(bulkStartedBefore.count, 20)
    }

    func testManualTriggerWaitAndCancel() throws {
        let flowd = try FlowdHarness(workflows: [
            "hand.yaml": "on: { manual: true }\nsteps:\n  - id: echo\n    run: echo \"got {{ trigger.payload.x }}\"\n",
            "long.yaml": """
                on: { manual: true }
                steps:
                  - id: wait
                    run: sleep 1000 & echo $! > /tmp/flowd-cancel-test-$FLOWD_RUN.pid; wait
                on_cancel:
                  - id: cleanup
                    run: echo "cleaning up run {{ run.id }} ({{ run.status }})"
                """,
        ])
        try flowd.start()
        let waited = flowd.flowadm("trigger", "hand", "--payload", #"{"x": 7}"#, "--wait")
        XCTAssertEqual(waited.status, 0, waited.standardError)
        XCTAssertEqual(waited.standardOutput, "run 1 of hand succeeded\n")
        XCTAssertEqual(try flowd.flowadm("show", "1", "--json").json()["attempts"]?.arrayValue?.first?["stdout"], "got 7\n")
        XCTAssertEqual(flowd.flowadm("trigger", "nosuch").status, 3)
        XCTAssertEqual(flowd.flowadm("trigger", "hand", "--payload", "{bad").status, 2)

        let queued = try flowd.flowadm("trigger", "long", "--json").json()
        XCTAssertEqual(queued["run"], 2)
        try flowd.waitUntil("the long step runs") { FileManager.default.fileExists(atPath: "/tmp/flowd-cancel-test-2.pid") }
        let pid = Int32((try String(contentsOfFile: "/tmp/flowd-cancel-test-2.pid", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        defer { try? FileManager.default.removeItem(atPath: "/tmp/flowd-cancel-test-2.pid") }
        let cancel = flowd.flowadm("cancel", "2")
        XCTAssertEqual(cancel.status, 0, cancel.standardError)
        XCTAssertEqual(cancel.standardOutput, "run 2 cancelled\n")
        let run = try flowd.flowadm("show", "2", "--json").json()
        XCTAssertEqual(attempts(run).map { $0["status"] }, ["cancelled", "succeeded"])
        XCTAssertEqual(attempts(run).last?["stdout"], "cleaning up run 2 (cancelled)\n")
        try flowd.waitUntil("the step's background process is gone") { kill(pid, 0) != 0 }
        let again = flowd.flowadm("cancel", "2")
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.standardError, "flowadm: run 2 already ended (cancelled)\n")
    }
}

final class RunAsTests: XCTestCase {
    func testStepsRunAsTheNamedUserAndGroup() throws {
        guard getuid() == 0 else { throw XCTSkip("user:/group: need flowd running as root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("setpriv (util-linux) is not installed") }
        let flowd = try FlowdHarness(workflows: ["who.yaml": """
            on: { manual: true }
            steps:
              - id: as-nobody
                user: nobody
                run: echo "$(id -un) $(id -gn) $USER"; echo "ME=$(id -u)" >> "$FLOWD_OUTPUT"
                outputs: env
              - id: group-only
                if: "{{ true }}"
                group: nogroup
                run: echo "$(id -un) $(id -gn)"
              - id: typo
                if: "{{ true }}"
                user: nosuchuser-xyz
                run: 'true'
            """])
        try flowd.start()
        _ = flowd.flowadm("trigger", "who", "--wait")
        let attempts = try flowd.flowadm("show", "1", "--json").json()["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["status"] }, ["succeeded", "succeeded", "failed"])
        XCTAssertEqual(attempts[0]["stdout"], "nobody nogroup nobody\n")
        XCTAssertEqual(attempts[0]["output"], ["ME": "65534"], "the step's user could write $FLOWD_OUTPUT")
        XCTAssertEqual(attempts[1]["stdout"], "root nogroup\n")
        XCTAssertEqual(attempts[2]["error"], "user: no user \"nosuchuser-xyz\" on this host")
    }
}
