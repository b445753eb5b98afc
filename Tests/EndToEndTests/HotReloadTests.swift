// End to end: editing files in workflows/ takes effect without a restart or SIGHUP.

import DaemonCore
import Foundation
import XCTest

final class HotReloadTests: XCTestCase {
    func testEditsAddsBreakagesAndDeletesAreApplied() throws {
        let flowd = try FlowdHarness(workflows: ["job.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: say
                run: echo version one
            """])
        try flowd.start()
        let path = flowd.path("etc/flowd/workflows/job.yaml")
        func versions() throws -> [String: String] {
            let listing = try flowd.flowadm("workflows", "--json").json()
            var result: [String: String] = [:]
            for workflow in listing["workflows"]?.arrayValue ?? [] {
                result[workflow["name"]?.stringValue ?? ""] = workflow["version"]?.stringValue
            }
            return result
        }
        let first = try XCTUnwrap(try versions()["job"])

        // A valid edit becomes the new version for runs that start after it.
        try "on: { spool: { format: raw } }\nsteps:\n  - id: say\n    run: echo version two\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try flowd.waitUntil("the edit is loaded") { try versions()["job"] != first }
        let second = try XCTUnwrap(try versions()["job"])
        try flowd.drop("x", workflow: "job", name: "a")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["version"]?.stringValue, second)
        XCTAssertEqual(run["attempts"]?.arrayValue?.first?["stdout"], "version two\n")

        // An invalid edit keeps the last good version and is reported.
        try "steps: [ {id: say, run: [broken\n".write(toFile: path, atomically: true, encoding: .utf8)
        try flowd.waitUntil("the error is shown") {
            !((try flowd.flowadm("workflows", "--json").json()["errors"]?.arrayValue ?? []).isEmpty)
        }
        XCTAssertEqual(try versions()["job"], second)
        try flowd.drop("x", workflow: "job", name: "b")
        XCTAssertEqual(try flowd.waitForRun(2)["attempts"]?.arrayValue?.first?["stdout"], "version two\n")

        // A new file adds a workflow, with its incoming directory.
        try "on: { spool: { format: raw } }\nsteps:\n  - id: hi\n    run: echo new\n"
            .write(toFile: flowd.path("etc/flowd/workflows/added.yaml"), atomically: true, encoding: .utf8)
        try flowd.waitUntil("the new workflow is loaded") { try versions()["added"] != nil }
        XCTAssertTrue(flowd.exists("spool/incoming/added"))

        // Deleting the file stops new runs of that workflow.
        try FileManager.default.removeItem(atPath: path)
        try flowd.waitUntil("the workflow is gone") { try versions()["job"] == nil }
        try flowd.drop("x", workflow: "job", name: "c")
        try flowd.waitUntil("the file for the deleted workflow is refused") { flowd.exists("spool/rejected/job/c.reason") }
    }
}
