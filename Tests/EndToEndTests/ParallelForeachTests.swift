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
}
