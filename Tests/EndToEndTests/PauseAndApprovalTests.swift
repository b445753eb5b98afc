// End to end: pausing workflows and runs, resuming with changes, and approval steps.

import DaemonCore
import Foundation
import XCTest

final class PauseAndApprovalTests: XCTestCase {
    func testPausedWorkflowKeepsItsFilesAcrossRestartUntilResumed() throws {
        let flowd = try FlowdHarness(workflows: ["job.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: go\n    run: echo ran\n"])
        try flowd.start()
        let pause = flowd.flowadm("pause", "job")
        XCTAssertEqual(pause.status, 0, pause.standardError)
        try flowd.drop("x", workflow: "job", name: "waiting")
        usleep(400_000)
        XCTAssertTrue(flowd.exists("spool/incoming/job/waiting"), "a paused workflow's files wait in incoming/")
        XCTAssertEqual(try flowd.flowadm("workflows", "--json").json()["workflows"]?.arrayValue?.first?["paused"], true)

        XCTAssertEqual(try flowd.stop(), 0)
        try flowd.start()
        usleep(300_000)
        XCTAssertTrue(flowd.exists("spool/incoming/job/waiting"), "still paused after a restart")
        XCTAssertEqual(try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue?.count, 0)

        XCTAssertEqual(flowd.flowadm("resume", "job").status, 0)
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        XCTAssertEqual(flowd.flowadm("pause", "nosuch").status, 1)
    }

    func testPausedRunStopsAtTheNextStepAndResumesWithNewVars() throws {
        let flowd = try FlowdHarness(workflows: ["paint.yaml": """
            on: { manual: true }
            vars: { color: red }
            steps:
              - id: prepare
                run: sleep 0.5; echo prepared
              - id: paint
                run: echo "{{ vars.color }}"
            """])
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "paint").status, 0)
        try flowd.waitUntil("prepare runs") {
            (try? flowd.flowadm("show", "1", "--json").json()["attempts"]?.arrayValue?.first?["status"]) == "running"
        }
        XCTAssertEqual(flowd.flowadm("pause", "1").status, 0)
        try flowd.waitUntil("the run is paused after prepare") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "paused" }
        let paused = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(paused["attempts"]?.arrayValue?.map { $0["step"] }, ["prepare"], "the running step finished; the next did not start")
        XCTAssertEqual(paused["attempts"]?.arrayValue?.first?["status"], "succeeded")

        let resume = flowd.flowadm("resume", "1", "--set", "vars.color=blue")
        XCTAssertEqual(resume.status, 0, resume.standardError)
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(run["attempts"]?.arrayValue?.last?["stdout"], "blue\n")
        XCTAssertEqual(flowd.flowadm("resume", "1").status, 1, "an ended run cannot be resumed")
    }

    func testApprovalWaitsValidatesFieldsAndFeedsLaterSteps() throws {
        let flowd = try FlowdHarness(workflows: ["ask.yaml": """
            on: { manual: true }
            concurrency: 2
            steps:
              - id: ask
                approval:
                  prompt: "Keep the copy of {{ trigger.payload.name }}?"
                  fields:
                    keep: { type: boolean, required: true }
                    size: { type: string, enum: [small, large] }
              - id: act
                run: echo "keep={{ steps.ask.output.fields.keep }} size={{ steps.ask.output.fields.size }} by={{ steps.ask.output.by.uid }}"
            """], configuration: "workers: 1\n")
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "ask", "--payload", #"{"name": "db.dump"}"#).status, 0)
        XCTAssertEqual(flowd.flowadm("trigger", "ask", "--payload", #"{"name": "logs.tar"}"#).status, 0)
        try flowd.waitUntil("both runs wait") { (try? flowd.flowadm("status", "--json").json()["waiting"]) == 2 }

        let prompts = try flowd.flowadm("prompts", "--json").json()["prompts"]?.arrayValue ?? []
        XCTAssertEqual(prompts.map { $0["prompt"] }, ["Keep the copy of db.dump?", "Keep the copy of logs.tar?"])
        let human = flowd.flowadm("prompts").standardOutput
        XCTAssertTrue(human.contains("--field keep=<boolean, required>"), human)
        XCTAssertTrue(human.contains(#"--field size=<string, one of "small"|"large">"#), human)

        let missing = flowd.flowadm("approve", "1", "--field", "size=small")
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.standardError, "flowadm: field \"keep\" is required\n")
        XCTAssertEqual(flowd.flowadm("approve", "1", "--field", "keep=yes").standardError, "flowadm: field \"keep\" must be a boolean\n")
        XCTAssertEqual(flowd.flowadm("approve", "1", "--field", "keep=true", "--field", "size=huge").standardError,
                       "flowadm: field \"size\" must be one of \"small\", \"large\"\n")
        XCTAssertEqual(flowd.flowadm("approve", "1", "wrong-step", "--field", "keep=true").status, 1)

        let approved = flowd.flowadm("approve", "1", "ask", "--field", "keep=true", "--field", "size=large")
        XCTAssertEqual(approved.status, 0, approved.standardError)
        let first = try flowd.waitForRun(1)
        XCTAssertEqual(first["status"], "succeeded")
        XCTAssertEqual(first["attempts"]?.arrayValue?.last?["stdout"]?.stringValue, "keep=true size=large by=\(getuid())\n")

        XCTAssertEqual(flowd.flowadm("reject", "2").status, 0)
        let second = try flowd.waitForRun(2)
        XCTAssertEqual(second["status"], "failed")
        XCTAssertEqual(second["failed_step"], "ask")
        XCTAssertEqual(second["attempts"]?.arrayValue?.first?["error"]?.stringValue, "rejected by uid \(getuid())")
        XCTAssertEqual(flowd.flowadm("approve", "2").status, 1, "nothing waits any more")
    }

    func testApprovalTimeoutTakesItsDefault() throws {
        let flowd = try FlowdHarness(workflows: ["auto.yaml": """
            on: { manual: true }
            steps:
              - id: ask
                approval: { prompt: "Proceed?", timeout: 300ms, on_timeout: approve }
              - id: after
                run: echo "approved={{ steps.ask.output.approved }}"
            """])
        try flowd.start()
        let waited = flowd.flowadm("trigger", "auto", "--wait")
        XCTAssertEqual(waited.status, 0, waited.standardError)
        let run = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(run["attempts"]?.arrayValue?.last?["stdout"], "approved=true\n")
    }
}
