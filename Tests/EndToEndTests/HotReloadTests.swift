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

    /// A hot reload re-reads only the changed file, unless the change can affect other
    /// files: taking another file's workflow name must still be reported as a duplicate,
    /// and giving it back must bring the workflow back.
    func testNameTakenFromAnotherFileIsADuplicateAndGivingItBackRestoresIt() throws {
        let body = "on: { spool: { format: raw } }\nsteps:\n  - id: say\n    run: echo hi\n"
        let flowd = try FlowdHarness(workflows: ["a.yaml": body, "b.yaml": body])
        try flowd.start()
        func listing() throws -> (names: [String], errors: [String]) {
            let json = try flowd.flowadm("workflows", "--json").json()
            let names = (json["workflows"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
            let errors = (json["errors"]?.arrayValue ?? []).flatMap { $0["errors"]?.arrayValue ?? [] }.compactMap(\.stringValue)
            return (names, errors)
        }
        XCTAssertEqual(try listing().names, ["a", "b"])
        let path = flowd.path("etc/flowd/workflows/b.yaml")

        try ("name: a\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        try flowd.waitUntil("b.yaml is reported as a duplicate of a") {
            try listing().errors.contains { $0.contains("workflow \"a\" is already defined by") }
        }
        XCTAssertEqual(try listing().names, ["a"], "b.yaml no longer provides b")

        try body.replacingOccurrences(of: "echo hi", with: "echo back").write(toFile: path, atomically: true, encoding: .utf8)
        try flowd.waitUntil("b is back") { try listing().names == ["a", "b"] }
        XCTAssertEqual(try listing().errors, [])
        try flowd.drop("x", workflow: "b", name: "one")
        XCTAssertEqual(try flowd.waitForRun(1)["attempts"]?.arrayValue?.first?["stdout"], "back\n")
    }
}
