// End to end: retention prunes finished runs past retention.max_runs_per_workflow, with
// their done/ files, and never a run that is waiting or running.

import DaemonCore
import Foundation
import XCTest

final class RetentionTests: XCTestCase {
    func testKeepsTheNewestFinishedRunsAndNeverPrunesAnUnfinishedOne() throws {
        let flowd = try FlowdHarness(
            workflows: ["keep.yaml": """
                on: { spool: { format: json } }
                concurrency: 4
                steps:
                  - id: ask
                    if: "{{ trigger.payload.mode == 'wait' }}"
                    approval: { prompt: "go on?" }
                  - id: work
                    run: 'if [ "{{ trigger.payload.mode }}" = busy ]; then sleep 60; fi'
                """],
            configuration: """
                shutdown_grace: 1s
                retention: { max_runs_per_workflow: 5, interval: 200ms }
                """)
        try flowd.start()
        func runs() -> [JSONValue] {
            (try? flowd.flowadm("runs", "--workflow", "keep", "--json").json()["runs"]?.arrayValue) ?? []
        }
        func status(_ id: Int) -> String? {
            try? flowd.flowadm("show", String(id), "--json").json()["status"]?.stringValue
        }
        try flowd.drop(#"{"mode": "wait"}"#, workflow: "keep", name: "waits.json")
        try flowd.waitUntil("run 1 waits for its approval") { status(1) == "waiting" }
        try flowd.drop(#"{"mode": "busy"}"#, workflow: "keep", name: "busy.json")
        try flowd.waitUntil("run 2 runs its step") { status(2) == "running" }

        for index in 1...20 {
            try flowd.drop(#"{"mode": "quick"}"#, workflow: "keep", name: String(format: "quick-%02d.json", index))
        }
        let doneDirectory = flowd.path("spool/done/keep")
        func doneFiles() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: doneDirectory)) ?? []).sorted() }
        try flowd.waitUntil("15 of the 20 finished runs and their done/ files are pruned", timeout: 30) {
            let listed = runs()
            let finished = listed.filter { $0["status"] == "succeeded" }
            return listed.count == 7 && finished.count == 5 && finished.compactMap { $0["id"]?.intValue }.min() == 18
                && doneFiles().count == 5
        }
        let listed = runs()
        XCTAssertEqual(listed.compactMap { $0["id"]?.intValue }, [22, 21, 20, 19, 18, 2, 1])
        XCTAssertEqual(listed.suffix(2).map { $0["status"] }, ["running", "waiting"], "unfinished runs are never pruned")
        XCTAssertEqual(doneFiles(), (18...22).map { id in String(format: "\(id).quick-%02d.json", id - 2) })
        XCTAssertEqual(flowd.flowadm("show", "3").status, 3, "a pruned run is gone (not found)")
        XCTAssertTrue(flowd.exists("spool/active/keep/1.waits.json"), "an unfinished run's file stays in active/")
        XCTAssertTrue(flowd.exists("spool/active/keep/2.busy.json"))
        XCTAssertTrue(flowd.log.contains("retention pruned"), flowd.log)
        XCTAssertTrue(flowd.flowadm("metrics").standardOutput.contains("flowd_runs_pruned_total 15"))
        try flowd.stop()
    }
}
