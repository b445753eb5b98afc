// End to end: replay (original version, --current, --from, --set) and diff.

import DaemonCore
import Foundation
import XCTest

final class ReplayTests: XCTestCase {
    /// A replay of a spool run reads the original's file (kept in done/) through
    /// $FLOWD_TRIGGER_FILE; the file stays where it is.
    func testReplayOfASpoolRunSeesTheOriginalFile() throws {
        let flowd = try FlowdHarness(workflows: ["read.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: read
                run: cat "$FLOWD_TRIGGER_FILE"
            """])
        try flowd.start()
        try flowd.drop("the file's text\n", workflow: "read", name: "in.txt")
        XCTAssertEqual(try flowd.waitForRun(1)["attempts"]?.arrayValue?.first?["stdout"], "the file's text\n")
        try flowd.waitUntil("the file reaches done/") { flowd.exists("spool/done/read/1.in.txt") }
        let replay = flowd.flowadm("replay", "1", "--wait")
        XCTAssertEqual(replay.status, 0, replay.standardError)
        let run = try flowd.waitForRun(2)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        XCTAssertEqual(run["attempts"]?.arrayValue?.first?["stdout"], "the file's text\n")
        XCTAssertTrue(flowd.exists("spool/done/read/1.in.txt"), "the original's file stays in done/")
    }

    func testReplayUsesTheOriginalVersionReusesOutputsAndDiffNamesTheChanges() throws {
        let original = """
            on: { manual: true }
            vars: { greeting: hello }
            steps:
              - id: count
                run: echo 41
                outputs: json
              - id: greet
                run: echo "{{ vars.greeting }} {{ trigger.payload.name }} {{ steps.count.output }}"
            """
        let flowd = try FlowdHarness(workflows: ["greet.yaml": original])
        try flowd.start()
        XCTAssertEqual(flowd.flowadm("trigger", "greet", "--payload", #"{"name": "ada"}"#, "--wait").status, 0)

        // The definition changes after run 1.
        try (original.replacingOccurrences(of: "{{ vars.greeting }}", with: "HI") + "\n  - id: extra\n    run: echo extra\n")
            .write(toFile: flowd.path("etc/flowd/workflows/greet.yaml"), atomically: true, encoding: .utf8)
        let firstVersion = try flowd.flowadm("show", "1", "--json").json()["version"]
        try flowd.waitUntil("the edit is loaded") {
            (try? flowd.flowadm("workflows", "--json").json()["workflows"]?.arrayValue?.first?["version"]) != firstVersion
        }

        // 2: the original version, payload changed.
        let replay = flowd.flowadm("replay", "1", "--set", "payload.name=bob", "--wait")
        XCTAssertEqual(replay.status, 0, replay.standardError)
        XCTAssertEqual(replay.standardOutput, "run 2 replays run 1: succeeded\n")
        let second = try flowd.flowadm("show", "2", "--json").json()
        XCTAssertEqual(second["replay_of"], 1)
        XCTAssertEqual(second["version"], firstVersion)
        XCTAssertEqual(second["attempts"]?.arrayValue?.last?["stdout"], "hello bob 41\n")

        // 3: today's definition, from greet: count is not run again, its output is reused.
        let fromGreet = flowd.flowadm("replay", "1", "--current", "--from", "greet", "--set", "vars.greeting=hey", "--wait")
        XCTAssertEqual(fromGreet.status, 0, fromGreet.standardError)
        let third = try flowd.flowadm("show", "3", "--json").json()
        XCTAssertEqual(third["attempts"]?.arrayValue?.map { $0["step"] }, ["count", "greet", "extra"])
        XCTAssertEqual(third["attempts"]?.arrayValue?.map { $0["status"] }, ["reused", "succeeded", "succeeded"])
        XCTAssertEqual(third["attempts"]?.arrayValue?[1]["stdout"], "HI ada 41\n")
        XCTAssertEqual(flowd.flowadm("replay", "1", "--from", "nosuch").status, 1)

        // The original record never changes.
        let firstAgain = try flowd.flowadm("show", "1", "--json").json()
        XCTAssertEqual(firstAgain["attempts"]?.arrayValue?.last?["stdout"], "hello ada 41\n")
        XCTAssertEqual(firstAgain["replay_of"], .null)

        let diff = try flowd.flowadm("diff", "1", "3", "--json").json()
        XCTAssertEqual(diff["definition"]?["same"], false)
        XCTAssertEqual(diff["definition"]?["steps_added"], ["extra"])
        XCTAssertEqual(diff["definition"]?["steps_changed"], ["greet"])
        XCTAssertEqual(diff["vars"], [["path": "vars.greeting", "a": "hello", "b": "hey"]])
        XCTAssertEqual(diff["payload"], [])
        XCTAssertEqual(diff["first_differing_step"]?["a"]?["step"], "greet")
        XCTAssertEqual(diff["first_differing_step"]?["b"]?["output"], "HI ada 41\n")
        let human = flowd.flowadm("diff", "1", "2").standardOutput
        XCTAssertTrue(human.contains("definition: same version"), human)
        XCTAssertTrue(human.contains(#"payload.name: "ada" -> "bob""#), human)
    }
}
