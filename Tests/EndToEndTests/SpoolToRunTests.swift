// End to end: a real flowd on a temporary root, real spool files, the real flowadm.

import DaemonCore
import Foundation
import XCTest

final class SpoolToRunTests: XCTestCase {
    static let hello = """
        name: hello
        on:
          spool: { format: json }
        steps:
          - id: greet
            run: echo "hello from run $FLOWD_RUN of $FLOWD_WORKFLOW"
          - id: payload
            run: cat "$FLOWD_TRIGGER_FILE"; echo; echo "to stderr" >&2
        """

    func testDroppedFileRunsEveryStepAndMovesToDone() throws {
        let flowd = try FlowdHarness(workflows: ["hello.yaml": Self.hello])
        try flowd.start()
        try flowd.drop(#"{"name": "world"}"#, workflow: "hello", name: "first.json")

        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        XCTAssertEqual(run["workflow"], "hello")
        XCTAssertEqual(run["trigger"]?["name"], "first.json")
        XCTAssertEqual(run["payload"], ["name": "world"])
        let attempts = try XCTUnwrap(run["attempts"]?.arrayValue)
        XCTAssertEqual(attempts.map { $0["step"] }, ["greet", "payload"])
        XCTAssertEqual(attempts.map { $0["exit_code"] }, [0, 0])
        XCTAssertEqual(attempts.map { $0["status"] }, ["succeeded", "succeeded"])
        XCTAssertEqual(attempts[0]["stdout"], "hello from run 1 of hello\n")
        XCTAssertEqual(attempts[1]["stdout"], "{\"name\": \"world\"}\n")
        XCTAssertEqual(attempts[1]["stderr"], "to stderr\n")

        try flowd.waitUntil("the trigger file reaches done/") { flowd.exists("spool/done/hello/1.first.json") }
        XCTAssertFalse(flowd.exists("spool/incoming/hello/first.json"))
        XCTAssertFalse(flowd.exists("spool/active/hello/1.first.json"))

        // The human views show the same run.
        let table = flowd.flowadm("runs")
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.standardOutput.hasPrefix("RUN"), table.standardOutput)
        XCTAssertTrue(table.standardOutput.contains("hello"), table.standardOutput)
        XCTAssertTrue(table.standardOutput.contains("succeeded"), table.standardOutput)
        let show = flowd.flowadm("show", "1")
        XCTAssertEqual(show.status, 0)
        XCTAssertTrue(show.standardOutput.contains("run 1 of hello: succeeded"), show.standardOutput)
        XCTAssertTrue(show.standardOutput.contains("  | hello from run 1 of hello"), show.standardOutput)
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testFailingConnectorStepFailsItsAttemptAndTheDaemonKeepsRunning() throws {
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: first
                run: echo before
              - id: call
                uses: slack/post-message
                with: { channel: "#ops", text: hi }
              - id: never
                run: echo after
            """
        let flowd = try FlowdHarness(workflows: ["kinds.yaml": workflow, "hello.yaml": Self.hello])
        // The shipped slack manifest, and no credential for it.
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../etc/flowd/connectors/slack.yaml")
        try FileManager.default.createDirectory(atPath: flowd.path("etc/flowd/connectors"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shipped.standardized.path, toPath: flowd.path("etc/flowd/connectors/slack.yaml"))
        try flowd.start()
        try flowd.drop("{}", workflow: "kinds", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        let attempts = try XCTUnwrap(run["attempts"]?.arrayValue)
        XCTAssertEqual(attempts.map { $0["step"] }, ["first", "call", "never"])
        XCTAssertEqual(attempts.map { $0["status"] }, ["succeeded", "failed", "skipped"])
        XCTAssertEqual(attempts[1]["error"]?.stringValue?.hasPrefix("connector slack needs credential slack_token; none is loaded"), true)
        try flowd.drop("{}", workflow: "hello", name: "b.json")
        XCTAssertEqual(try flowd.waitForRun(2)["status"], "succeeded")
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testFilesWrittenInPlaceAndRenamedInBothRun() throws {
        let flowd = try FlowdHarness(workflows: ["hello.yaml": Self.hello])
        try flowd.start()
        // Written in place (IN_CLOSE_WRITE), not renamed.
        try #"{"n": 1}"#.write(toFile: flowd.path("spool/incoming/hello/in-place.json"), atomically: false, encoding: .utf8)
        try flowd.drop(#"{"n": 2}"#, workflow: "hello", name: "renamed.json")
        _ = try flowd.waitForRun(1)
        _ = try flowd.waitForRun(2)
        let runs = try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(Set(runs.compactMap { $0["trigger"]?["name"]?.stringValue }), ["in-place.json", "renamed.json"])
    }

    func testFilesPresentAtStartAreClaimedByTheRescan() throws {
        let flowd = try FlowdHarness(workflows: ["hello.yaml": Self.hello])
        try FileManager.default.createDirectory(atPath: flowd.path("spool/incoming/hello"), withIntermediateDirectories: true)
        for index in 1...3 {
            try "{\"index\": \(index)}".write(toFile: flowd.path("spool/incoming/hello/early-\(index).json"), atomically: true, encoding: .utf8)
        }
        try flowd.start()
        for id in 1...3 { XCTAssertEqual(try flowd.waitForRun(id)["status"], "succeeded") }
        let runs = try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(runs.count, 3, "exactly one run per file")
    }

    func testFailingStepFailsTheRunAndLaterStepsNeverStart() throws {
        let flowd = try FlowdHarness(workflows: ["fails.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: fine
                run: echo fine
              - id: broken
                run: echo "about to fail" >&2; exit 3
              - id: never
                run: touch "$FLOWD_TRIGGER_FILE.never"
            """])
        try flowd.start()
        try flowd.drop("anything at all", workflow: "fails", name: "job.txt")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        XCTAssertEqual(run["failed_step"], "broken")
        let attempts = try XCTUnwrap(run["attempts"]?.arrayValue)
        XCTAssertEqual(attempts.map { $0["step"] }, ["fine", "broken", "never"])
        XCTAssertEqual(attempts.map { $0["status"] }, ["succeeded", "failed", "skipped"], "the step after a failure must not start")
        XCTAssertFalse(flowd.exists("spool/done/fails/1.job.txt.never") || flowd.exists("spool/active/fails/1.job.txt.never"))
        XCTAssertEqual(attempts[1]["exit_code"], 3)
        XCTAssertEqual(attempts[1]["status"], "failed")
        XCTAssertEqual(attempts[1]["stderr"], "about to fail\n")
        try flowd.waitUntil("the file reaches done/") { flowd.exists("spool/done/fails/1.job.txt") }

        let failedOnly = try flowd.flowadm("runs", "--status", "failed", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(failedOnly.map { $0["id"] }, [1])
    }

    func testStepOutputIsBoundedToTheConfiguredTail() throws {
        let flowd = try FlowdHarness(
            workflows: ["chatty.yaml": """
                on: { spool: { format: raw } }
                steps:
                  - id: talk
                    run: seq 1 100000
                """],
            configuration: "limits: { output_bytes: 1KiB }\n")
        try flowd.start()
        try flowd.drop("x", workflow: "chatty", name: "go")
        let attempt = try XCTUnwrap(try flowd.waitForRun(1)["attempts"]?.arrayValue?.first)
        let stdout = try XCTUnwrap(attempt["stdout"]?.stringValue)
        XCTAssertEqual(stdout.utf8.count, 1024)
        XCTAssertTrue(stdout.hasSuffix("99999\n100000\n"))
        XCTAssertEqual(attempt["stdout_bytes"], 588_895)
    }
}

/// $FLOWD_OUTPUT and done/ paths as the engine hands them out (issue 9's cheaper paths).
final class StepOutputFileTests: XCTestCase {
    func testOutputFileIsTheStepsToCreateAndNothingIsLeftBehind() throws {
        let workflow = """
            on: { spool: { format: raw } }
            steps:
              - id: quiet
                run: test -e "$FLOWD_OUTPUT" && echo exists || echo absent
              - id: writes
                run: echo "COLOR=blue" >> "$FLOWD_OUTPUT"
                outputs: env
              - id: reads
                run: echo "{{ steps.writes.output.COLOR }}"
              - id: odd
                run: mkdir "$FLOWD_OUTPUT" && touch "$FLOWD_OUTPUT/inside"
                outputs: env
            """
        let flowd = try FlowdHarness(workflows: ["out.yaml": workflow])
        // A file left by an attempt of an earlier daemon, at the path run 1's first attempt gets.
        try FileManager.default.createDirectory(atPath: flowd.path("state/outputs"), withIntermediateDirectories: true)
        try "STALE=1\n".write(toFile: flowd.path("state/outputs/1-1-1"), atomically: false, encoding: .utf8)
        try flowd.start()
        let outputs = try XCTUnwrap(try? FileManager.default.contentsOfDirectory(atPath: flowd.path("state/outputs")),
                                    "the state directory has outputs/")
        XCTAssertEqual(outputs, [], "leftovers of an earlier daemon are swept at start")
        try flowd.drop("x\n", workflow: "out", name: "a")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        let attempts = try XCTUnwrap(run["attempts"]?.arrayValue)
        XCTAssertEqual(attempts[0]["stdout"], "absent\n", "the daemon no longer creates an empty $FLOWD_OUTPUT")
        XCTAssertEqual(attempts[1]["output"], ["COLOR": "blue"])
        XCTAssertEqual(attempts[2]["stdout"], "blue\n")
        XCTAssertEqual(attempts[3]["output"], [:], "a directory at $FLOWD_OUTPUT is no output")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: flowd.path("state/outputs")), [],
                       "the file a step wrote is removed once read")
        XCTAssertEqual(try flowd.stop(), 0)
    }

    /// The step creates $FLOWD_OUTPUT with its own umask (0644 under 022): the name, not
    /// the mode, keeps other users out of it. outputs/ cannot be listed, and the name has
    /// a random part, so RUN-STEP-ATTEMPT alone finds nothing.
    func testAnotherUserCannotFindWhatAStepWritesToFlowdOutput() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to look as another user") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("setpriv missing") }
        let previous = umask(0o022)
        defer { umask(previous) }
        let flowd = try FlowdHarness(workflows: ["leak.yaml": """
            on: { manual: true }
            steps:
              - id: secret
                run: |
                  echo "TOKEN=s3cret" >> "$FLOWD_OUTPUT"
                  dir=$(dirname "$FLOWD_OUTPUT")
                  nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@" 2>/dev/null; }
                  nobody ls "$dir" || echo "no listing"
                  nobody cat "$dir/$FLOWD_RUN-0-1" || echo "no such name"
                outputs: env
            """])
        try flowd.start()
        _ = flowd.flowadm("trigger", "leak", "--wait")
        let run = try flowd.waitForRun(1)
        let attempt = run["attempts"]?.arrayValue?.first ?? .null
        XCTAssertEqual(attempt["output"], ["TOKEN": "s3cret"])
        XCTAssertEqual(attempt["stdout"], "no listing\nno such name\n", "another user found the step's $FLOWD_OUTPUT")
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testDonePathIsJournaledWithTheRunsEndAndAClashGetsAnotherName() throws {
        let workflow = """
            on: { spool: { format: raw } }
            steps:
              - id: one
                run: "true"
            """
        let flowd = try FlowdHarness(workflows: ["clash.yaml": workflow])
        try flowd.start()
        try flowd.drop("x\n", workflow: "clash", name: "plain")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        try flowd.waitUntil("run 1's file reaches done/") { flowd.exists("spool/done/clash/1.plain") }
        XCTAssertEqual(flowadmSpoolPath(flowd, run: 1), flowd.path("spool/done/clash/1.plain"))

        // done/clash/2.taken exists already: run 2's file must not replace it.
        try "someone else's\n".write(toFile: flowd.path("spool/done/clash/2.taken"), atomically: false, encoding: .utf8)
        try flowd.drop("mine\n", workflow: "clash", name: "taken")
        XCTAssertEqual(try flowd.waitForRun(2)["status"], "succeeded")
        try flowd.waitUntil("run 2's file reaches done/ under another name") { flowd.exists("spool/done/clash/2.taken.1") }
        try flowd.waitUntil("the journal names where it went") {
            flowadmSpoolPath(flowd, run: 2) == flowd.path("spool/done/clash/2.taken.1")
        }
        XCTAssertEqual(try String(contentsOfFile: flowd.path("spool/done/clash/2.taken"), encoding: .utf8), "someone else's\n")
        XCTAssertEqual(try String(contentsOfFile: flowd.path("spool/done/clash/2.taken.1"), encoding: .utf8), "mine\n")
        XCTAssertEqual(try flowd.stop(), 0)
    }

    private func flowadmSpoolPath(_ flowd: FlowdHarness, run: Int) -> String? {
        (try? flowd.flowadm("show", String(run), "--json").json())?["spool_path"]?.stringValue
    }
}
