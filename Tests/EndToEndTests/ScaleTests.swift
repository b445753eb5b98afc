// End to end at some scale: 50 runs waiting for an approval hold no worker, so a third
// workflow's runs execute meanwhile (with workers: 2), and all 50 succeed once approved
// through flowadm; a rate limit of 2/s spreads 10 triggers over about 5 s.

import DaemonCore
import Foundation
import XCTest

final class ScaleTests: XCTestCase {
    func microseconds(_ value: JSONValue?) -> Int64 { value?.stringValue.flatMap(WallClock.parseRFC3339) ?? 0 }

    func runs(_ flowd: FlowdHarness) -> [JSONValue] {
        (try? flowd.flowadm("runs", "--json", "--limit", "1000").json()["runs"]?.arrayValue) ?? []
    }

    func testFiftyRunsWaitingForApprovalDoNotStopAnotherWorkflow() throws {
        let gate = """
            on: { spool: { format: raw } }
            concurrency: 50
            steps:
              - id: ask
                approval: { prompt: "go on?" }
              - id: after
                run: echo approved
            """
        let flowd = try FlowdHarness(
            workflows: [
                "gate-a.yaml": gate,
                "gate-b.yaml": gate,
                "work.yaml": "on: { spool: { format: raw } }\nconcurrency: 5\nsteps:\n  - id: go\n    run: echo worked\n",
            ],
            configuration: "workers: 2\n")
        try flowd.start()
        for index in 0..<25 {
            try flowd.drop("x", workflow: "gate-a", name: "a\(index)")
            try flowd.drop("x", workflow: "gate-b", name: "b\(index)")
        }
        try flowd.waitUntil("50 runs wait for an approval", timeout: 30) {
            (try? flowd.flowadm("status", "--json").json()["waiting"]) == 50
        }
        for index in 0..<5 { try flowd.drop("x", workflow: "work", name: "w\(index)") }
        try flowd.waitUntil("the five work runs succeed", timeout: 30) {
            runs(flowd).filter { $0["workflow"] == "work" && $0["status"] == "succeeded" }.count == 5
        }
        XCTAssertEqual(try flowd.flowadm("status", "--json").json()["waiting"], 50, "the gates still wait")
        let prompts = try flowd.flowadm("prompts", "--json").json()
        let waiting = (prompts["prompts"]?.arrayValue ?? prompts.arrayValue ?? []).compactMap { $0["run"]?.intValue }
        XCTAssertEqual(waiting.count, 50, "\(prompts)")

        for run in waiting {
            let approve = flowd.flowadm("approve", String(run), "ask")
            XCTAssertEqual(approve.status, 0, approve.standardError)
        }
        try flowd.waitUntil("all 55 runs succeed", timeout: 60) {
            let all = runs(flowd)
            return all.count == 55 && all.allSatisfy { $0["status"] == "succeeded" }
        }
    }

    func testRateLimitSpreadsTenTriggersOverAboutFiveSeconds() throws {
        let flowd = try FlowdHarness(workflows: [
            "limited.yaml": "on: { spool: { format: raw } }\nconcurrency: 10\nrate_limit: 2/s\nsteps:\n  - id: s\n    run: 'true'\n",
        ])
        try flowd.start()
        for index in 0..<10 { try flowd.drop("x", workflow: "limited", name: "l\(index)") }
        var all: [JSONValue] = []
        try flowd.waitUntil("the ten runs succeed", timeout: 30) {
            all = runs(flowd)
            return all.count == 10 && all.allSatisfy { $0["status"] == "succeeded" }
        }
        let starts = all.map { microseconds($0["started_at"]) }.sorted()
        let span = starts[9] - starts[0]
        XCTAssertGreaterThanOrEqual(span, 3_900_000, "ten starts at 2/s span about 4 s (\(span) µs)")
        XCTAssertLessThan(span, 7_000_000)
        // Never more than two starts in any 1 s window: a start and the one two later are
        // at least 1 s apart (10 ms for the recorded time being read just after the limiter's).
        for index in 0..<(starts.count - 2) {
            XCTAssertGreaterThanOrEqual(starts[index + 2] - starts[index], 990_000, "starts \(index) and \(index + 2)")
        }
        print("rate limit 2/s: 10 starts spanned \(span / 1000) ms")
    }
}
