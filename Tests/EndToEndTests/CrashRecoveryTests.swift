// End to end: kill -9 the real daemon in the middle of runs, restart it, and check
// what SPEC section 5 promises: finished steps never run again, idempotent steps re-run,
// other interrupted steps wait for resume/skip/cancel, queued runs and sleeps go on,
// and every spool file has exactly one run.

import DaemonCore
import Foundation
import XCTest

final class CrashRecoveryTests: XCTestCase {
    /// Steps append a line to a counter file per execution, so re-execution is visible.
    static func workflow(idempotent: Bool) -> String {
        """
        on: { spool: { format: raw }, manual: true }
        steps:
          - id: before
            run: echo before >> "$FLOWD_TRIGGER_FILE.count"
          - id: long
            run: echo long >> "$FLOWD_TRIGGER_FILE.count"; echo started > "$FLOWD_TRIGGER_FILE.started"; sleep 30
            idempotent: \(idempotent)
            timeout: 2s
          - id: after
            run: echo after >> "$FLOWD_TRIGGER_FILE.count"
        """
    }

    func count(_ flowd: FlowdHarness, _ file: String) -> [String] {
        ((try? String(contentsOfFile: flowd.path(file), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A daemon whose run 1 (workflow job, not idempotent) was killed in its long step
    /// and restarted: the run now waits, interrupted, for an operator.
    func interruptedRun() throws -> FlowdHarness {
        let flowd = try FlowdHarness(workflows: ["job.yaml": Self.workflow(idempotent: false)])
        try flowd.start()
        try flowd.drop("x", workflow: "job", name: "a")
        try flowd.waitUntil("the long step runs") { flowd.exists("spool/active/job/1.a.started") }
        try flowd.stop(signal: SIGKILL)
        try flowd.start()
        try flowd.waitUntil("the run is interrupted") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "interrupted" }
        return flowd
    }

    func testNonIdempotentStepWaitsForAnOperatorAfterACrash() throws {
        let flowd = try interruptedRun()
        let run = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(run["attempts"]?.arrayValue?.map { $0["status"] }, ["succeeded", "interrupted"])
        XCTAssertEqual(count(flowd, "spool/active/job/1.a.count"), ["before", "long"], "nothing ran again by itself")

        // skip counts the step as succeeded; the run goes on with the next step.
        let skip = flowd.flowadm("skip", "1", "long")
        XCTAssertEqual(skip.status, 0, skip.standardError)
        let finished = try flowd.waitForRun(1)
        XCTAssertEqual(finished["status"], "succeeded")
        XCTAssertEqual(count(flowd, "spool/active/job/1.a.count"), ["before", "long", "after"], "before ran once, long was skipped")
    }

    /// Found by the crash harness: a run left interrupted by one recovery was failed by
    /// the next restart (its interrupted attempt was read as a finished failure).
    func testAnInterruptedRunStaysInterruptedAcrossAnotherRestart() throws {
        let flowd = try interruptedRun()

        for signal in [SIGKILL, SIGTERM] {
            _ = try flowd.stop(signal: signal)
            try flowd.start()
            let run = try flowd.flowadm("show", "1", "--json").json()
            XCTAssertEqual(run["status"], "interrupted", "still waiting for an operator after a restart (signal \(signal))")
            XCTAssertEqual(run["attempts"]?.arrayValue?.map { $0["status"] }, ["succeeded", "interrupted"])
        }
        XCTAssertEqual(flowd.flowadm("skip", "1", "long").status, 0)
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        XCTAssertEqual(count(flowd, "spool/active/job/1.a.count"), ["before", "long", "after"])
    }

    /// SIGTERM with a step still running after shutdown_grace: the step is stopped and
    /// journaled interrupted; the next start applies the recovery rules to it (it does not
    /// fail the run).
    func testAStepStoppedAfterTheShutdownGraceFollowsTheRecoveryRules() throws {
        let flowd = try FlowdHarness(
            workflows: ["job.yaml": Self.workflow(idempotent: false).replacingOccurrences(of: "timeout: 2s", with: "timeout: 60s"),
                        "safe.yaml": Self.workflow(idempotent: true).replacingOccurrences(of: "timeout: 2s", with: "timeout: 60s")
                            .replacingOccurrences(of: "sleep 30", with: #"test -f "$FLOWD_TRIGGER_FILE.again" || { touch "$FLOWD_TRIGGER_FILE.again"; sleep 30; }"#)],
            configuration: "shutdown_grace: 1s\n")
        try flowd.start()
        try flowd.drop("x", workflow: "job", name: "a")
        try flowd.drop("x", workflow: "safe", name: "b")
        try flowd.waitUntil("both long steps run") {
            flowd.exists("spool/active/job/1.a.started") && flowd.exists("spool/active/safe/2.b.started")
        }
        let stopping = Date()
        XCTAssertEqual(try flowd.stop(signal: SIGTERM), 0, flowd.log)
        XCTAssertLessThan(Date().timeIntervalSince(stopping), 20, "the grace is 1 s, the kill 5 s after SIGTERM")

        try flowd.start()
        let safe = try flowd.waitForRun(2)
        XCTAssertEqual(safe["status"], "succeeded", "the idempotent step ran again by itself")
        XCTAssertEqual(count(flowd, "spool/active/safe/2.b.count"), ["before", "long", "long", "after"])
        try flowd.waitUntil("run 1 is interrupted") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "interrupted" }
        XCTAssertEqual(count(flowd, "spool/active/job/1.a.count"), ["before", "long"], "nothing ran again by itself")
    }

    func testResumeRerunsAndIdempotentStepsRerunByThemselves() throws {
        let flowd = try FlowdHarness(workflows: [
            "job.yaml": Self.workflow(idempotent: false),
            "safe.yaml": Self.workflow(idempotent: true).replacingOccurrences(
                of: "sleep 30", with: #"test -f "$FLOWD_TRIGGER_FILE.started2" || { touch "$FLOWD_TRIGGER_FILE.started2"; sleep 30; }"#),
        ])
        try flowd.start()
        try flowd.drop("x", workflow: "job", name: "a")
        try flowd.drop("x", workflow: "safe", name: "b")
        try flowd.waitUntil("both long steps run") {
            flowd.exists("spool/active/job/1.a.started") && flowd.exists("spool/active/safe/2.b.started")
        }
        try flowd.stop(signal: SIGKILL)
        try flowd.start()

        // The idempotent step runs again on its own, as attempt 2.
        let safe = try flowd.waitForRun(2)
        XCTAssertEqual(safe["status"], "succeeded")
        XCTAssertEqual(safe["attempts"]?.arrayValue?.map { $0["status"] }, ["succeeded", "interrupted", "succeeded", "succeeded"])
        XCTAssertEqual(safe["attempts"]?.arrayValue?.map { $0["attempt"] }, [1, 1, 2, 1])
        XCTAssertEqual(count(flowd, "spool/active/safe/2.b.count"), ["before", "long", "long", "after"])

        // The other waits; resume runs it again.
        try flowd.waitUntil("run 1 is interrupted") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "interrupted" }
        try FileManager.default.removeItem(atPath: flowd.path("spool/active/job/1.a.started"))
        XCTAssertEqual(flowd.flowadm("resume", "1").status, 0)
        let resumed = try flowd.waitForRun(1)
        // The second execution of long times out after 2 s (it sleeps 30): the run fails, but it ran exactly once more.
        XCTAssertEqual(resumed["attempts"]?.arrayValue?.filter { $0["step"] == "long" }.map { $0["status"] }, ["interrupted", "timed_out"])
        XCTAssertEqual(count(flowd, "spool/active/job/1.a.count"), ["before", "long", "long"])
    }

    func testQueuedRunsAndSleepsSurviveACrashAndEveryFileGetsOneRun() throws {
        let flowd = try FlowdHarness(
            workflows: [
                "nap.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: nap\n    sleep: 2s\n  - id: done\n    run: echo woke\n",
                "work.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: s\n    idempotent: true\n    run: sleep 0.3; echo \"$FLOWD_RUN\" >> \"$FLOWD_TRIGGER_FILE.count\"\n",
            ],
            configuration: "workers: 1\n")
        try flowd.start()
        try flowd.drop("x", workflow: "nap", name: "sleeper")
        for index in 1...6 { try flowd.drop("x", workflow: "work", name: "w\(index)") }
        try flowd.waitUntil("some work is queued") { ((try? flowd.flowadm("status", "--json").json()["queued"])?.intValue ?? 0) >= 3 }
        let killedAt = Date()
        try flowd.stop(signal: SIGKILL)
        try flowd.start()

        let nap = try flowd.waitForRun(1)
        XCTAssertEqual(nap["status"], "succeeded")
        XCTAssertEqual(nap["attempts"]?.arrayValue?.map { $0["step"] }, ["nap", "done"])
        XCTAssertGreaterThan(Date().timeIntervalSince(killedAt), 0.5, "the sleep kept its recorded wake time")
        var runs: [JSONValue] = []
        try flowd.waitUntil("all work runs end", timeout: 30) {
            runs = (try? flowd.flowadm("runs", "--workflow", "work", "--json").json()["runs"]?.arrayValue) ?? []
            return runs.count == 6 && runs.allSatisfy { $0["status"] == "succeeded" }
        }
        XCTAssertEqual(Set(runs.compactMap { $0["trigger"]?["name"]?.stringValue }), Set((1...6).map { "w\($0)" }), "one run per file")
        try flowd.waitUntil("every file reached done/") {
            let done = ((try? FileManager.default.contentsOfDirectory(atPath: flowd.path("spool/done/work"))) ?? []).filter { !$0.hasSuffix(".count") }
            return done.count == 6
        }
    }

    /// The done/ path is now journaled with the run's end, before the rename. A crash
    /// between the two leaves the journal naming done/X with the file in active/: the
    /// next start must move it there and not give the file another run.
    func testAFileStillInActiveWhoseRunEndedMovesToDoneAtStart() throws {
        let flowd = try FlowdHarness(workflows: ["w.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: s
                run: echo hi
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "w", name: "a")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        try flowd.waitUntil("the file is in done/") { flowd.exists("spool/done/w/1.a") }
        try flowd.stop()
        // The state a kill -9 between the commit and the rename leaves.
        XCTAssertEqual(rename(flowd.path("spool/done/w/1.a"), flowd.path("spool/active/w/1.a")), 0)
        try flowd.start()
        try flowd.waitUntil("the file is in done/ again") { flowd.exists("spool/done/w/1.a") && !flowd.exists("spool/active/w/1.a") }
        usleep(300_000)
        XCTAssertNotEqual(flowd.flowadm("show", "2").status, 0, "the file got a second run")
        XCTAssertEqual(try flowd.flowadm("show", "1", "--json").json()["spool_path"]?.stringValue, flowd.path("spool/done/w/1.a"))
        try flowd.stop()
    }
}


final class CrashRecoveryFailedStepTests: XCTestCase {
    /// A step recorded as finally failed (no retry expected) is not tried again after a
    /// crash: the run goes on to its failure handler.
    func testAFailedStepIsNotRetriedAfterARestart() throws {
        let flowd = try FlowdHarness(workflows: ["job.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: breaks
                run: echo ran >> "$FLOWD_TRIGGER_FILE.count"; exit 3
                continue_on_error: true
              - id: long
                run: echo started > "$FLOWD_TRIGGER_FILE.started"; sleep 30
                idempotent: true
                timeout: 1s
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "job", name: "a")
        try flowd.waitUntil("the second step runs") { flowd.exists("spool/active/job/1.a.started") }
        try flowd.stop(signal: SIGKILL)
        try flowd.start()
        let run = try flowd.waitForRun(1)
        let breaks = run["attempts"]?.arrayValue?.filter { $0["step"] == "breaks" } ?? []
        XCTAssertEqual(breaks.count, 1, "the failed step keeps its one recorded attempt")
        let count = try String(contentsOfFile: flowd.path("spool/active/job/1.a.count"), encoding: .utf8)
        XCTAssertEqual(count, "ran\n", "and it did not run again")
    }
}
