// End to end: bad definitions and bad trigger files are reported, never crash flowd,
// and lose nothing.

import DaemonCore
import Foundation
import XCTest

final class BadInputTests: XCTestCase {
    static let echo = """
        on: { spool: { format: json } }
        steps:
          - id: echo
            run: cat "$FLOWD_TRIGGER_FILE"
        """

    func testInvalidDefinitionIsReportedAndTheRestRuns() throws {
        let flowd = try FlowdHarness(workflows: [
            "good.yaml": Self.echo,
            "broken.yaml": "name: broken\nsteps:\n  - id: a\n    rn: echo typo\n",
        ])
        try flowd.start()
        let listing = try flowd.flowadm("workflows", "--json").json()
        XCTAssertEqual(listing["workflows"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["good"])
        let problem = try XCTUnwrap(listing["errors"]?.arrayValue?.first)
        XCTAssertEqual(problem["path"]?.stringValue, flowd.path("etc/flowd/workflows/broken.yaml"))
        let messages = problem["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertEqual(messages, [
            flowd.path("etc/flowd/workflows/broken.yaml") + ":3:5: step \"a\" needs an action: one of run, exec, http, set, foreach, sleep, approval, trigger, uses, fail",
            flowd.path("etc/flowd/workflows/broken.yaml") + ":4:5: unknown key \"rn\" in a step; "
                + "expected one of: id, name, if, timeout, retry, idempotent, continue_on_error, fallback, run, exec, http, set, foreach, "
                + "sleep, approval, trigger, uses, fail, shell, env, cwd, user, group, stdin, outputs, do, parallel, max_items, with",
        ])
        XCTAssertTrue(flowd.log.contains("invalid workflow definition: " + flowd.path("etc/flowd/workflows/broken.yaml") + ":3:5"),
                      flowd.log)

        let human = flowd.flowadm("workflows")
        XCTAssertTrue(human.standardOutput.contains("errors in " + flowd.path("etc/flowd/workflows/broken.yaml")), human.standardOutput)

        try flowd.drop("{}", workflow: "good", name: "a.json")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
    }

    func testGarbageSymlinkFIFOAndOversizedFilesAreRejectedWithReasons() throws {
        let flowd = try FlowdHarness(workflows: ["good.yaml": Self.echo], configuration: "spool: { max_file_size: 1KiB }\n")
        try flowd.start()
        let incoming = flowd.path("spool/incoming/good")
        try flowd.drop("{not json", workflow: "good", name: "garbage.json")
        XCTAssertEqual(symlink("/etc/passwd", incoming + "/link.json"), 0)
        XCTAssertEqual(mkfifo(incoming + "/pipe.json", 0o644), 0)
        try flowd.drop(String(repeating: "x", count: 2048), workflow: "good", name: "huge.json")
        try flowd.drop("{\"fine\": true}", workflow: "good", name: "fine.json")

        try flowd.waitUntil("all four refused files are in rejected/") {
            ["garbage.json", "link.json", "pipe.json", "huge.json"].allSatisfy { flowd.exists("spool/rejected/good/\($0).reason") }
        }
        var reasons: [String: String] = [:]
        for name in ["garbage.json", "link.json", "pipe.json", "huge.json"] {
            reasons[name] = try String(contentsOfFile: flowd.path("spool/rejected/good/\(name).reason"), encoding: .utf8)
        }
        XCTAssertTrue(reasons["garbage.json"]!.contains("payload is not valid JSON"), reasons["garbage.json"]!)
        XCTAssertTrue(reasons["link.json"]!.contains("is a symlink, not a regular file"), reasons["link.json"]!)
        XCTAssertTrue(reasons["pipe.json"]!.contains("is a FIFO, not a regular file"), reasons["pipe.json"]!)
        XCTAssertTrue(reasons["huge.json"]!.contains("2048 bytes, over spool.max_file_size (1024 bytes)"), reasons["huge.json"]!)
        // The refused files themselves are kept, not deleted; the symlink was not followed.
        XCTAssertTrue(flowd.exists("spool/rejected/good/garbage.json"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: flowd.path("spool/rejected/good/link.json")), "/etc/passwd")

        // The daemon is still well and the good file ran; no run was made for the refused ones.
        var runs: [JSONValue] = []
        try flowd.waitUntil("the good file's run succeeds") {
            runs = (try? flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue) ?? []
            return runs.first?["status"] == "succeeded"
        }
        XCTAssertEqual(runs.compactMap { $0["trigger"]?["name"]?.stringValue }, ["fine.json"])
        XCTAssertEqual(flowd.flowadm("status").status, 0)
    }

    func testFileForUnknownWorkflowIsRejected() throws {
        let flowd = try FlowdHarness(workflows: ["good.yaml": Self.echo])
        try flowd.start()
        try flowd.drop("{}", workflow: "nosuch", name: "lost.json")
        try flowd.waitUntil("the file is refused") { flowd.exists("spool/rejected/nosuch/lost.json.reason") }
        XCTAssertTrue(try String(contentsOfFile: flowd.path("spool/rejected/nosuch/lost.json.reason"), encoding: .utf8)
            .contains("unknown workflow \"nosuch\""))
    }

    func testInProgressNamesAreLeftAlone() throws {
        let flowd = try FlowdHarness(workflows: ["good.yaml": Self.echo])
        try flowd.start()
        let incoming = flowd.path("spool/incoming/good")
        for name in [".hidden.json", "upload.json.tmp", "upload.json.part", "backup.json~"] {
            try "{}".write(toFile: incoming + "/" + name, atomically: false, encoding: .utf8)
        }
        try flowd.drop("{}", workflow: "good", name: "real.json")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        for name in [".hidden.json", "upload.json.tmp", "upload.json.part", "backup.json~"] {
            XCTAssertTrue(flowd.exists("spool/incoming/good/" + name), "\(name) must wait in incoming/")
        }
        XCTAssertEqual(try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue?.count, 1)
    }

    func testInvalidConfigurationStopsStartWithPositions() throws {
        let flowd = try FlowdHarness(workflows: ["good.yaml": Self.echo], configuration: "workers: 0\nbogus: 1\n")
        XCTAssertThrowsError(try flowd.start()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("flowd.yaml:1:10: workers must be between 1 and 1024, found 0"), text)
            XCTAssertTrue(text.contains("flowd.yaml:2:1: unknown key \"bogus\""), text)
        }
    }
}
