// End to end: hold, release, requeue and delete of spool files through flowadm.

import DaemonCore
import Foundation
import XCTest

final class SpoolManagementTests: XCTestCase {
    func testHoldReleaseRequeueAndDelete() throws {
        let flowd = try FlowdHarness(workflows: ["job.yaml": "on: { spool: { format: json } }\nsteps:\n  - id: go\n    run: echo ok\n"])
        try flowd.start()
        // A rejected file comes back with requeue once it is fixed.
        try flowd.drop("{broken", workflow: "job", name: "fixme.json")
        try flowd.waitUntil("it is rejected") { flowd.exists("spool/rejected/job/fixme.json.reason") }
        try #"{"fixed": true}"#.write(toFile: flowd.path("spool/rejected/job/fixme.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(flowd.flowadm("requeue", "job/fixme.json").standardOutput, "job/fixme.json requeued\n")
        XCTAssertEqual(try flowd.waitForRun(2)["payload"], ["fixed": true])
        XCTAssertFalse(flowd.exists("spool/rejected/job/fixme.json.reason"))

        // Files of a paused workflow can be held, released and deleted.
        XCTAssertEqual(flowd.flowadm("pause", "job").status, 0)
        try flowd.drop("{}", workflow: "job", name: "later.json")
        try flowd.drop("{}", workflow: "job", name: "never.json")
        XCTAssertEqual(flowd.flowadm("hold", "job/later.json").status, 0)
        XCTAssertEqual(flowd.flowadm("hold", "job/never.json").status, 0)
        let held = try flowd.flowadm("spool", "--json").json()["held"]?.arrayValue?.compactMap { $0["file"]?.stringValue }
        XCTAssertEqual(held, ["later.json", "never.json"])
        XCTAssertEqual(flowd.flowadm("delete", "job/never.json").status, 0)
        XCTAssertFalse(flowd.exists("spool/hold/job/never.json"))
        XCTAssertEqual(flowd.flowadm("resume", "job").status, 0)
        usleep(300_000)
        XCTAssertTrue(flowd.exists("spool/hold/job/later.json"), "a held file does not run")
        XCTAssertEqual(flowd.flowadm("release", "job/later.json").status, 0)
        try flowd.waitUntil("the released file runs") { flowd.exists("spool/done/job/3.later.json") }

        let missing = flowd.flowadm("release", "job/nosuch.json")
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.standardError.contains("no file nosuch.json in"), missing.standardError)
        XCTAssertEqual(flowd.flowadm("hold", "job/../../etc").status, 1, "names with slashes are refused")
        XCTAssertEqual(flowd.flowadm("hold", "nojob").status, 2)
    }
}
