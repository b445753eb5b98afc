// End to end: foreach with `parallel: N` runs up to N items at once, through the real
// daemon: overlap within the limit, output in item order, a failing item stops new
// items, cancel stops every item in flight, and kill -9 mid-foreach never runs a
// finished item again.

import DaemonCore
import Foundation
import XCTest

final class ParallelForeachTests: XCTestCase {
    func attempts(_ run: JSONValue, step: String) -> [JSONValue] {
        (run["attempts"]?.arrayValue ?? []).filter { $0["step"]?.stringValue == step }
    }

    func microseconds(_ value: JSONValue?) -> Int64 { value?.stringValue.flatMap(WallClock.parseRFC3339) ?? 0 }

    /// The most attempts running at one instant, from their recorded start and end times.
    func mostAtOnce(_ attempts: [JSONValue]) -> Int {
        var edges: [(Int64, Int)] = []
        for attempt in attempts {
            edges.append((microseconds(attempt["started_at"]), 1))
            edges.append((microseconds(attempt["ended_at"]), -1))
        }
        edges.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }  // an end before a start at the same instant
        var now = 0, most = 0
        for edge in edges {
            now += edge.1
            most = max(most, now)
        }
        return most
    }

    func lines(_ flowd: FlowdHarness, _ file: String) -> Int {
        ((try? String(contentsOfFile: flowd.path(file), encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    func testItemsRunThreeAtATimeAndTheOutputKeepsItemOrder() throws {
        let flowd = try FlowdHarness(
            workflows: ["fan.yaml": """
                on: { spool: { format: raw } }
                vars: { names: [a, b, c, d, e, f] }
                steps:
                  - id: each
                    foreach: '{{ vars.names }}'
                    parallel: 3
                    do:
                      - id: work
                        run: sleep 1; echo {{ item }}
                  - id: after
                    set: { list: '{{ steps.each.output }}' }
                """],
            configuration: "workers: 3\n")
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", flowd.log)
        let work = attempts(run, step: "work")
        XCTAssertEqual(work.count, 6)
        let starts = work.map { microseconds($0["started_at"]) }
        let ends = work.map { microseconds($0["ended_at"]) }
        let elapsed = (ends.max() ?? 0) - (starts.min() ?? 0)
        XCTAssertLessThan(elapsed, 4_000_000, "six 1 s items, three at a time, take about 2 s, not 6 s (took \(elapsed) µs)")
        XCTAssertGreaterThanOrEqual(elapsed, 1_900_000, "never more than three at once: at least two rounds")
        let most = mostAtOnce(work)
        XCTAssertLessThanOrEqual(most, 3)
        XCTAssertGreaterThanOrEqual(most, 2)
        // Each attempt is journaled with its item, and ran for that item.
        for attempt in work {
            let item = try XCTUnwrap(attempt["item"]?.intValue)
            XCTAssertEqual(attempt["stdout"]?.stringValue, ["a", "b", "c", "d", "e", "f"][Int(item)] + "\n")
        }
        XCTAssertEqual(attempts(run, step: "after").first?["output"], ["list": ["a\n", "b\n", "c\n", "d\n", "e\n", "f\n"]])
        print("parallel foreach: 6 x 1 s items, parallel 3, workers 3: \(elapsed / 1000) ms, at most \(most) at once")
    }

    func testAFailingItemStopsNewItemsAndFailsTheRunAfterTheOnesInFlight() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { numbers: [0, 1, 2, 3, 4, 5] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 2
                do:
                  - id: work
                    run: if [ {{ item }} = 1 ]; then exit 3; fi; sleep 0.5
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        XCTAssertEqual(run["failed_step"], "each")
        let work = attempts(run, step: "work")
        XCTAssertEqual(work.map { $0["item"] }, [0, 1], "no item starts after item 1 failed")
        XCTAssertEqual(work.first { $0["item"] == 0 }?["status"], "succeeded", "item 0 was in flight and finished")
        XCTAssertEqual(work.first { $0["item"] == 1 }?["status"], "failed")
    }

    func testCancelStopsEveryItemInFlight() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { numbers: [0, 1, 2, 3] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 3
                do:
                  - id: work
                    run: sleep 60
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        try flowd.waitUntil("three items run") {
            let run = (try? flowd.flowadm("show", "1", "--json").json()) ?? .null
            return attempts(run, step: "work").filter { $0["status"] == "running" }.count == 3
        }
        let begin = Date()
        let cancel = flowd.flowadm("cancel", "1")
        XCTAssertEqual(cancel.status, 0, cancel.standardError)
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "cancelled")
        XCTAssertLessThan(Date().timeIntervalSince(begin), 10)
        try flowd.waitUntil("every item's attempt is journaled cancelled") {
            let run = (try? flowd.flowadm("show", "1", "--json").json()) ?? .null
            return attempts(run, step: "work").map { $0["status"] } == ["cancelled", "cancelled", "cancelled"]
        }
    }

    func testKillDuringTheForeachNeverRerunsAFinishedItem() throws {
        let flowd = try FlowdHarness(
            workflows: ["fan.yaml": """
                on: { spool: { format: raw } }
                vars: { numbers: [0, 1, 2, 3, 4, 5] }
                steps:
                  - id: each
                    foreach: '{{ vars.numbers }}'
                    parallel: 3
                    do:
                      - id: work
                        run: echo ran >> "$FLOWD_TRIGGER_FILE.{{ item }}"; sleep 2; echo {{ item }}
                        idempotent: true
                """],
            configuration: "workers: 3\n")
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        // Items 3-5 start only when items 0-2 have ended (and their ends are journaled).
        try flowd.waitUntil("the second round runs") {
            (3...5).allSatisfy { flowd.exists("spool/active/fan/1.job.\($0)") }
        }
        try flowd.stop(signal: SIGKILL)
        try flowd.start()
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", flowd.log)
        for item in 0...2 {
            XCTAssertEqual(lines(flowd, "spool/active/fan/1.job.\(item)"), 1, "finished item \(item) never ran again")
        }
        for item in 3...5 {
            XCTAssertEqual(lines(flowd, "spool/active/fan/1.job.\(item)"), 2, "item \(item) was in flight: idempotent, it ran again")
        }
        let work = attempts(run, step: "work")
        XCTAssertEqual(work.filter { $0["status"] == "succeeded" }.compactMap { $0["item"]?.intValue }.sorted(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(work.filter { $0["status"] == "interrupted" }.compactMap { $0["item"]?.intValue }.sorted(), [3, 4, 5])
    }

    func testPauseStopsNewItemsAndResumeFinishesThem() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { numbers: [0, 1, 2, 3] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 2
                do:
                  - id: work
                    run: echo {{ item }} > "$FLOWD_TRIGGER_FILE.started-{{ item }}"; sleep 1.5
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        try flowd.waitUntil("two items run") { flowd.exists("spool/active/fan/1.job.started-1") }
        XCTAssertEqual(flowd.flowadm("pause", "1").status, 0)
        try flowd.waitUntil("the run is paused") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "paused" }
        let paused = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(attempts(paused, step: "work").map { $0["status"] }, ["succeeded", "succeeded"],
                       "the items in flight finished their step; no new item started")
        XCTAssertFalse(flowd.exists("spool/active/fan/1.job.started-2"))
        XCTAssertEqual(flowd.flowadm("resume", "1").status, 0)
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(attempts(run, step: "work").compactMap { $0["item"]?.intValue }.sorted(), [0, 1, 2, 3])
    }

    func testEachItemAsksItsOwnApproval() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { hosts: [alpha, beta] }
            steps:
              - id: each
                foreach: '{{ vars.hosts }}'
                parallel: 2
                do:
                  - id: ask
                    approval: { prompt: "reboot {{ item }}?" }
                  - id: reboot
                    run: echo rebooting {{ item }}
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        var prompts: [JSONValue] = []
        try flowd.waitUntil("both items ask") {
            prompts = (try? flowd.flowadm("prompts", "--json").json()["prompts"]?.arrayValue) ?? []
            return prompts.count == 2
        }
        XCTAssertEqual(prompts.map { $0["prompt"] }, ["reboot alpha?", "reboot beta?"])
        XCTAssertEqual(prompts.map { $0["item"] }, [0, 1])
        XCTAssertEqual(prompts.map { $0["run"] }, [1, 1])
        XCTAssertTrue(flowd.flowadm("prompts").standardOutput.contains("step ask item 0"))
        // Every item in flight waits: so does the run, as a run without items would.
        try flowd.waitUntil("the run shows waiting") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "waiting" }
        try flowd.waitUntil("status counts it as waiting") { (try? flowd.flowadm("status", "--json").json()["waiting"]) == 1 }
        XCTAssertEqual(flowd.flowadm("approve", "1", "ask").status, 0, "answers item 0, the first waiting")
        XCTAssertEqual(flowd.flowadm("reject", "1", "ask").status, 0, "answers item 1")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed", "item 1 was rejected")
        XCTAssertEqual(attempts(run, step: "reboot").map { $0["status"] }, ["succeeded", "skipped"])
        XCTAssertEqual(attempts(run, step: "reboot").first?["stdout"], "rebooting alpha\n")
    }

    func testAnInterruptedItemWaitsForResumeAfterACrash() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { numbers: [0, 1] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 2
                do:
                  - id: work
                    run: echo ran >> "$FLOWD_TRIGGER_FILE.{{ item }}"; test {{ item }} = 0 || test -f "$FLOWD_TRIGGER_FILE.go" || sleep 60
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        try flowd.waitUntil("item 0 ended and item 1 runs") {
            let run = (try? flowd.flowadm("show", "1", "--json").json()) ?? .null
            return attempts(run, step: "work").map { $0["status"] } == ["succeeded", "running"]
        }
        try flowd.stop(signal: SIGKILL)
        try flowd.start()
        try flowd.waitUntil("the run is interrupted") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "interrupted" }
        XCTAssertEqual(lines(flowd, "spool/active/fan/1.job.1"), 1, "the item in flight did not run again by itself")
        _ = FileManager.default.createFile(atPath: flowd.path("spool/active/fan/1.job.go"), contents: nil)
        let resume = flowd.flowadm("resume", "1")
        XCTAssertEqual(resume.status, 0, resume.standardError)
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(lines(flowd, "spool/active/fan/1.job.0"), 1, "the finished item never ran again")
        XCTAssertEqual(lines(flowd, "spool/active/fan/1.job.1"), 2)
    }

    func testLoopsNestedInItemsAndItemsNestedInLoops() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { rows: [[1, 2], [3, 4]] }
            steps:
              - id: outer
                foreach: '{{ vars.rows }}'
                parallel: 2
                do:
                  - id: inner
                    foreach: '{{ item }}'
                    do:
                      - id: cell
                        set: { value: '{{ item }}' }
                  - id: row-done
                    set: { cells: '{{ steps.inner.output }}' }
              - id: sequential
                foreach: '{{ vars.rows }}'
                do:
                  - id: fanned
                    foreach: '{{ item }}'
                    parallel: 2
                    do:
                      - id: echo
                        run: echo {{ item }}
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", flowd.log)
        XCTAssertEqual(attempts(run, step: "cell").count, 4)
        let rows = attempts(run, step: "row-done").sorted { ($0["item"]?.intValue ?? 0) < ($1["item"]?.intValue ?? 0) }
        XCTAssertEqual(rows.map { $0["output"] }, [
            ["cells": [["value": 1], ["value": 2]]],
            ["cells": [["value": 3], ["value": 4]]],
        ])
        XCTAssertEqual(attempts(run, step: "echo").compactMap { $0["stdout"]?.stringValue }.sorted(), ["1\n", "2\n", "3\n", "4\n"])
    }

    func testContinueOnErrorRunsEveryItemAndTheRunGoesOn() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            vars: { numbers: [0, 1, 2, 3] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 2
                continue_on_error: true
                do:
                  - id: work
                    run: test {{ item }} != 1 && echo {{ item }}
              - id: after
                set: { status: '{{ steps.each.status }}', outputs: '{{ steps.each.output }}' }
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(attempts(run, step: "work").compactMap { $0["item"]?.intValue }.sorted(), [0, 1, 2, 3])
        XCTAssertEqual(attempts(run, step: "after").first?["output"], ["status": "failed", "outputs": ["0\n", .null, "2\n", "3\n"]])
    }

    func testRunTimeoutStopsTheItemsAndRunsOnFailure() throws {
        let flowd = try FlowdHarness(workflows: ["fan.yaml": """
            on: { spool: { format: raw } }
            timeout: 1s
            vars: { numbers: [0, 1, 2] }
            steps:
              - id: each
                foreach: '{{ vars.numbers }}'
                parallel: 3
                do:
                  - id: work
                    run: sleep 60
            on_failure:
              - id: note
                run: echo "gave up at {{ run.failed_step }}"
            """])
        try flowd.start()
        try flowd.drop("x", workflow: "fan", name: "job")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        XCTAssertEqual(run["error"], "the run timed out after 1s")
        XCTAssertEqual(attempts(run, step: "note").first?["stdout"], "gave up at each\n")
        try flowd.waitUntil("every item's attempt is journaled cancelled") {
            let run = (try? flowd.flowadm("show", "1", "--json").json()) ?? .null
            return attempts(run, step: "work").map { $0["status"] } == ["cancelled", "cancelled", "cancelled"]
        }
    }

    func testItemsTakeTurnsWithAnotherRunForTheWorkers() throws {
        let flowd = try FlowdHarness(
            workflows: [
                "fan.yaml": """
                    on: { spool: { format: raw } }
                    vars: { numbers: [0, 1, 2, 3, 4, 5] }
                    steps:
                      - id: each
                        foreach: '{{ vars.numbers }}'
                        parallel: 6
                        do:
                          - id: work
                            run: sleep 0.5
                    """,
                "other.yaml": "on: { spool: { format: raw } }\nsteps:\n  - id: nap\n    sleep: 500ms\n  - id: go\n    run: echo other\n",
            ],
            configuration: "workers: 1\n")
        try flowd.start()
        try flowd.drop("x", workflow: "other", name: "job")
        try flowd.waitUntil("the other run naps") { (try? flowd.flowadm("status", "--json").json()["waiting"]) == 1 }
        try flowd.drop("x", workflow: "fan", name: "job")
        let other = try flowd.waitForRun(1)
        let fan = try flowd.waitForRun(2)
        XCTAssertEqual(other["status"], "succeeded")
        XCTAssertEqual(fan["status"], "succeeded")
        let itemStarts = attempts(fan, step: "work").map { microseconds($0["started_at"]) }.sorted()
        let otherStart = try XCTUnwrap(attempts(other, step: "go").first.map { microseconds($0["started_at"]) })
        // Attempts are handed to the pool two per worker (one runs while the next one's
        // start commits). First come, first served would hand the other run's step out
        // after all six items; taking turns hands it out before the fifth.
        XCTAssertLessThan(otherStart, itemStarts[4], "the other run's step took its turn between the items")
    }
}
