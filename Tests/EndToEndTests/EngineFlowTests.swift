// End to end: control flow of a run (if, continue_on_error, handlers, fallback,
// foreach, set, outputs, expressions) through the real daemon.

import DaemonCore
import Foundation
import XCTest

final class EngineFlowTests: XCTestCase {
    func attempts(_ run: JSONValue) -> [JSONValue] { run["attempts"]?.arrayValue ?? [] }

    func testConditionsContinueOnErrorAndFailureHandlers() throws {
        let flowd = try FlowdHarness(workflows: ["flow.yaml": """
            on: { spool: { format: json } }
            steps:
              - id: flaky
                run: exit 1
                continue_on_error: true
              - id: recover
                if: "{{ steps.flaky.status == 'failed' }}"
                run: echo recovered
              - id: breaks
                run: exit 2
              - id: never
                run: echo never
              - id: always
                if: "{{ true }}"
                run: echo "status {{ run.status }} failed at {{ run.failed_step }}"
            on_success:
              - id: cheer
                run: echo yay
            on_failure:
              - id: report
                run: echo "run {{ run.id }} {{ run.status }} at {{ run.failed_step }}"
            """])
        try flowd.start()
        try flowd.drop("{}", workflow: "flow", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        XCTAssertEqual(run["failed_step"], "breaks")
        let steps = attempts(run)
        XCTAssertEqual(steps.map { $0["step"] }, ["flaky", "recover", "breaks", "never", "always", "report"])
        XCTAssertEqual(steps.map { $0["status"] }, ["failed", "succeeded", "failed", "skipped", "succeeded", "succeeded"])
        XCTAssertEqual(steps[1]["stdout"], "recovered\n")
        XCTAssertEqual(steps[4]["stdout"], "status failed failed at breaks\n")
        XCTAssertEqual(steps[5]["stdout"], "run 1 failed at breaks\n")
    }

    /// `if:` and `foreach:` written as bare expressions (no `{{ }}`) mean the same as
    /// the template form (they used to be taken as plain, always-true text).
    func testBareExpressionsInIfAndForeach() throws {
        let flowd = try FlowdHarness(workflows: ["bare.yaml": """
            on: { spool: { format: json } }
            steps:
              - id: fine
                run: echo fine
              - id: skipped
                if: steps.fine.status == "failed"
                run: echo should not run
              - id: taken
                if: steps.fine.status == "succeeded" && trigger.payload.go
                run: echo taken
              - id: each
                foreach: trigger.payload.items
                do:
                  - id: show
                    run: echo "item {{ item }}"
            """])
        try flowd.start()
        try flowd.drop(#"{"go": true, "items": ["a", "b"]}"#, workflow: "bare", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let byStep = Dictionary(grouping: attempts(run), by: { $0["step"]?.stringValue ?? "" })
        XCTAssertEqual(byStep["skipped"]?.first?["status"], "skipped")
        XCTAssertEqual(byStep["taken"]?.first?["stdout"], "taken\n")
        XCTAssertEqual(byStep["show"]?.map { $0["stdout"] }, ["item a\n", "item b\n"])
    }

    func testSetOutputsExpressionsForeachAndFallback() throws {
        let flowd = try FlowdHarness(workflows: ["data.yaml": """
            on: { spool: { format: json } }
            steps:
              - id: compute
                set:
                  count: "{{ trigger.payload.count }}"
                  label: "file-{{ trigger.name }}"
                  many: "{{ trigger.payload.count > 2 }}"
              - id: report
                run: |
                  echo '{"ok": true, "label": "{{ steps.compute.output.label }}", "n": {{ steps.compute.output.count }}}'
                outputs: json
              - id: listing
                run: printf 'a\\nb\\n'
                outputs: lines
              - id: keys
                run: echo "COLOR=blue" >> "$FLOWD_OUTPUT"; echo "SIZE=3" >> "$FLOWD_OUTPUT"
                outputs: env
              - id: each
                foreach: "{{ trigger.payload.items }}"
                do:
                  - id: shout
                    run: echo "{{ index }}:{{ upper(item) }}"
              - id: risky
                run: exit 9
                fallback:
                  - id: plan-b
                    set: { via: fallback }
              - id: final
                if: "{{ steps.report.output.ok && steps.risky.status == 'succeeded' }}"
                run: echo "{{ steps.risky.output.via }} {{ steps.keys.output.COLOR }} {{ len(steps.listing.output) }}"
            """])
        try flowd.start()
        try flowd.drop(#"{"count": 3, "items": ["x", "y"]}"#, workflow: "data", name: "in.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let byStep = Dictionary(attempts(run).map { ($0["step"]?.stringValue ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(byStep["compute"]?["output"], ["count": 3, "label": "file-in.json", "many": true], "a lone {{ }} keeps its type")
        XCTAssertEqual(byStep["report"]?["output"], ["ok": true, "label": "file-in.json", "n": 3])
        XCTAssertEqual(byStep["listing"]?["output"], ["a", "b"])
        XCTAssertEqual(byStep["keys"]?["output"], ["COLOR": "blue", "SIZE": "3"])
        XCTAssertEqual(attempts(run).filter { $0["step"] == "shout" }.map { $0["stdout"] }, ["0:X\n", "1:Y\n"])
        XCTAssertEqual(byStep["risky"]?["status"], "failed")
        XCTAssertEqual(byStep["plan-b"]?["status"], "succeeded")
        XCTAssertEqual(byStep["final"]?["stdout"], "fallback blue 2\n")
        let expectedCommand: JSONValue = .string(#"echo '{"ok": true, "label": "file-in.json", "n": 3}'"# + "\n")
        XCTAssertEqual(byStep["report"]?["input"]?["run"], expectedCommand, "the journal keeps the interpolated command")
    }

    func testBadJSONOutputAndExpressionErrorsFailTheStepClearly() throws {
        let flowd = try FlowdHarness(workflows: ["bad.yaml": """
            on: { spool: { format: json } }
            steps:
              - id: prints
                run: echo not-json
                outputs: json
            on_failure:
              - id: missing
                run: echo "{{ trigger.payload.nosuch }}"
            """])
        try flowd.start()
        try flowd.drop("{}", workflow: "bad", name: "x.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        let steps = attempts(run)
        XCTAssertTrue(steps[0]["error"]?.stringValue?.hasPrefix("outputs: json: stdout is not valid JSON") ?? false, "\(steps[0])")
        XCTAssertEqual(steps[1]["status"], "failed")
        XCTAssertTrue(steps[1]["error"]?.stringValue?.contains("no field 'nosuch'") ?? false, "\(steps[1])")
        XCTAssertEqual(flowd.flowadm("status").status, 0)
    }

    func testWorkflowTriggeredByAnotherWorkflowsEnd() throws {
        let flowd = try FlowdHarness(workflows: [
            "upstream.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: fails\n    run: exit 5\n",
            "downstream.yaml": """
                on:
                  workflow: { name: upstream, status: [failed] }
                steps:
                  - id: notice
                    run: echo "upstream run {{ trigger.payload.run }} {{ trigger.payload.status }}"
                """,
        ])
        try flowd.start()
        try flowd.drop("x", workflow: "upstream", name: "go")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "failed")
        let downstream = try flowd.waitForRun(2)
        XCTAssertEqual(downstream["workflow"], "downstream")
        XCTAssertEqual(downstream["trigger"]?["kind"], "workflow")
        XCTAssertEqual(attempts(downstream).first?["stdout"], "upstream run 1 failed\n")
    }
}

final class TriggerStepTests: XCTestCase {
    func testTriggerStepStartsAnotherWorkflowAndWaitsForItsResult() throws {
        let flowd = try FlowdHarness(workflows: [
            "parent.yaml": """
                on: { manual: true }
                steps:
                  - id: child
                    trigger: { workflow: child, payload: { n: "{{ trigger.payload.n }}" }, wait: true }
                  - id: report
                    run: echo "child run {{ steps.child.output.run }} {{ steps.child.output.status }}"
                  - id: fire-and-forget
                    trigger: { workflow: child, payload: { n: 0 } }
                """,
            "child.yaml": "on: { manual: true }\nsteps:\n  - id: check\n    run: test {{ trigger.payload.n }} -gt 0 || exit 1; echo ok\n",
        ])
        try flowd.start()
        let parent = flowd.flowadm("trigger", "parent", "--payload", #"{"n": 5}"#, "--wait")
        XCTAssertEqual(parent.status, 0, parent.standardError)
        let run = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(run["attempts"]?.arrayValue?.map { $0["step"] }, ["child", "report", "fire-and-forget"])
        XCTAssertEqual(run["attempts"]?.arrayValue?[1]["stdout"], "child run 2 succeeded\n")
        let child = try flowd.waitForRun(2)
        XCTAssertEqual(child["parent_run"], 1)
        XCTAssertEqual(child["trigger"]?["kind"], "step")
        XCTAssertEqual(try flowd.waitForRun(3)["status"], "failed", "the fire-and-forget child failed on its own")
        XCTAssertEqual(run["status"], "succeeded", "without wait the parent does not follow the child")
    }
}
