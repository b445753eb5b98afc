// End to end: `flowadm resume RUN --set steps.S.input.KEY=V` on a paused run changes
// the input of a step that has not started (its environment for a run step), refuses
// a step that already started or a path it does not know (changing nothing), and the
// change set with who made it lands in the journal's run_events.

import DaemonCore
import Foundation
import XCTest

final class ResumeChangesTests: XCTestCase {
    func testResumeChangesTheInputOfAStepNotStartedOnly() throws {
        let flowd = try FlowdHarness(workflows: ["greet.yaml": """
            on: { manual: true }
            vars: { greeting: hello }
            steps:
              - id: prepare
                run: sleep 0.5; echo prepared
              - id: greet
                run: echo "{{ vars.greeting }} $WHO"
                env: { WHO: world }
              - id: note
                set: { done: true }
            """])
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "greet").status, 0)
        try flowd.waitUntil("prepare runs") {
            (try? flowd.flowadm("show", "1", "--json").json()["attempts"]?.arrayValue?.first?["status"]) == "running"
        }
        XCTAssertEqual(flowd.flowadm("pause", "1").status, 0)
        try flowd.waitUntil("the run is paused after prepare") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "paused" }

        let started = flowd.flowadm("resume", "1", "--set", "vars.greeting=bye", "--set", "steps.prepare.input.X=1")
        XCTAssertNotEqual(started.status, 0)
        XCTAssertTrue(started.standardError.contains("step prepare of run 1 has already started"), started.standardError)
        let unknown = flowd.flowadm("resume", "1", "--set", "steps.nosuch.input.X=1")
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.standardError.contains("run 1 has no step nosuch"), unknown.standardError)
        let wrongKind = flowd.flowadm("resume", "1", "--set", "steps.note.input.X=1")
        XCTAssertNotEqual(wrongKind.status, 0)
        XCTAssertTrue(wrongKind.standardError.contains("step note is a set step"), wrongKind.standardError)
        let badPath = flowd.flowadm("resume", "1", "--set", "steps.greet=1")
        XCTAssertNotEqual(badPath.status, 0)
        XCTAssertEqual(try flowd.flowadm("show", "1", "--json").json()["status"], "paused", "a refused change set does not resume the run")

        let resume = flowd.flowadm("resume", "1", "--set", "steps.greet.input.WHO=operators")
        XCTAssertEqual(resume.status, 0, resume.standardError)
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.first { $0["step"] == "greet" }?["stdout"], "hello operators\n",
                       "the refused set (vars.greeting=bye) changed nothing; the accepted one reached the step")
        XCTAssertEqual(attempts.first { $0["step"] == "prepare" }?["stdout"], "prepared\n", "a completed output never changes")

        let query = flowd.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for row in db.execute("SELECT uid, details FROM run_events WHERE run_id = 1 AND kind = 'resume_run'"):
                print(row[0], row[1])
            """, flowd.path("state/journal.sqlite")])
        XCTAssertEqual(query.status, 0, query.standardError)
        XCTAssertEqual(query.standardOutput.split(separator: "\n").count, 1, "only the accepted change set is journaled: \(query.standardOutput)")
        XCTAssertTrue(query.standardOutput.hasPrefix("\(getuid()) "), query.standardOutput)
        XCTAssertTrue(query.standardOutput.contains("steps.greet.input.WHO"), query.standardOutput)
        XCTAssertTrue(query.standardOutput.contains("operators"), query.standardOutput)
    }

    func testResumeChangesHoldAfterACrash() throws {
        let flowd = try FlowdHarness(workflows: ["greet.yaml": """
            on: { manual: true }
            vars: { greeting: hello }
            steps:
              - id: prepare
                run: sleep 0.5
              - id: nap
                sleep: 2s
              - id: greet
                run: echo "{{ vars.greeting }} $WHO"
                env: { WHO: world }
            """])
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "greet").status, 0)
        try flowd.waitUntil("prepare runs") {
            (try? flowd.flowadm("show", "1", "--json").json()["attempts"]?.arrayValue?.first?["status"]) == "running"
        }
        XCTAssertEqual(flowd.flowadm("pause", "1").status, 0)
        try flowd.waitUntil("the run is paused") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "paused" }
        let resume = flowd.flowadm("resume", "1", "--set", "vars.greeting=bye", "--set", "steps.greet.env.WHO=operators")
        XCTAssertEqual(resume.status, 0, resume.standardError)
        try flowd.waitUntil("the nap sleeps") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "waiting" }
        try flowd.stop(signal: SIGKILL)

        try flowd.start()
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(run["attempts"]?.arrayValue?.last?["stdout"], "bye operators\n", "the journaled change set is applied again")
    }
}
