// End to end: a workflow that would wait forever for a run of itself. A trigger step
// with wait on its own workflow under concurrency 1 is a definition error; a longer
// cycle (ping waits for pong, pong for ping, every slot held by a waiting run) fails the
// trigger step at run time instead of hanging.

import DaemonCore
import Foundation
import XCTest

final class SelfTriggerTests: XCTestCase {
    func testWaitingForItselfUnderConcurrencyOneIsADefinitionError() throws {
        let flowd = try FlowdHarness(workflows: [
            "again.yaml": """
                on: { manual: true }
                steps:
                  - id: recurse
                    trigger: { workflow: again, wait: true }
                """,
            "wide.yaml": """
                on: { manual: true }
                concurrency: 2
                steps:
                  - id: recurse
                    if: '{{ trigger.kind == "manual" }}'
                    trigger: { workflow: wide, wait: true }
                """,
        ])
        let again = flowd.path("etc/flowd/workflows/again.yaml"), wide = flowd.path("etc/flowd/workflows/wide.yaml")
        let result = flowd.flowadm(arguments: ["validate", again], socket: false)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardOutput.contains("\(again):3:5: step \"recurse\" waits for a run of its own workflow again"),
                      result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("it would wait forever"), result.standardOutput)
        let fine = flowd.flowadm(arguments: ["validate", wide], socket: false)
        XCTAssertEqual(fine.status, 0, "with room for two runs the child can start: \(fine.standardOutput)")
    }

    func testACycleWithEverySlotHeldFailsTheTriggerStepInsteadOfWaitingForever() throws {
        let flowd = try FlowdHarness(workflows: [
            "ping.yaml": """
                on: { manual: true }
                concurrency: 2
                steps:
                  - id: call-pong
                    trigger: { workflow: pong, wait: true }
                """,
            "pong.yaml": """
                on: { manual: true }
                steps:
                  - id: call-ping
                    trigger: { workflow: ping, wait: true }
                """,
        ])
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "ping").status, 0)
        // ping 1 → pong 2 → ping 3 (ping has room for two) → pong: its one slot is held by
        // pong 2, which waits (through ping 3) for this very step.
        let innermost = try flowd.waitForRun(3)
        XCTAssertEqual(innermost["workflow"], "ping")
        XCTAssertEqual(innermost["status"], "failed")
        let error = innermost["attempts"]?.arrayValue?.first?["error"]?.stringValue ?? ""
        XCTAssertTrue(error.contains("trigger: a run of pong could not start before this run ends"), error)
        XCTAssertTrue(error.contains("held by run 2"), error)
        XCTAssertEqual(try flowd.waitForRun(2)["status"], "failed")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "failed")
        XCTAssertEqual(try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue?.count, 3, "no fourth run was created")
    }
}
