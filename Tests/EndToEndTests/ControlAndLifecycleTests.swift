// End to end: flowadm's exit statuses and errors, and the daemon's clean stop.

import DaemonCore
import Foundation
import XCTest

final class ControlAndLifecycleTests: XCTestCase {
    static let slow = """
        on: { spool: { format: raw } }
        steps:
          - id: slow
            run: sleep 1; echo finished
          - id: after
            run: echo after
        """

    func testExitStatusesAndMessages() throws {
        let flowd = try FlowdHarness(workflows: ["slow.yaml": Self.slow])
        let unreachable = flowd.flowadm("status")
        XCTAssertEqual(unreachable.status, 69)
        XCTAssertEqual(unreachable.standardError, "flowadm: flowd is not running (no socket at \(flowd.path("run/control.sock")))\n")

        try flowd.start()
        let missing = flowd.flowadm("show", "999")
        XCTAssertEqual(missing.status, 3)
        XCTAssertEqual(missing.standardError, "flowadm: no run 999\n")
        XCTAssertEqual(flowd.flowadm("show").status, 2)
        XCTAssertEqual(flowd.flowadm("frobnicate").status, 2)
        XCTAssertEqual(flowd.flowadm("runs", "--limit", "zero").status, 2)
        // Global options are accepted before and after the verb.
        XCTAssertEqual(flowd.flowadm(arguments: ["--json", "status"]).status, 0)
        let after = flowd.flowadm(arguments: ["status", "--socket", flowd.path("run/control.sock"), "--json"], socket: false)
        XCTAssertEqual(after.status, 0, after.standardError)
        let status = try after.json()
        XCTAssertEqual(status["phase"], "running")
        XCTAssertEqual(status["workflows"], 1)
    }

    func testSIGTERMLetsTheRunningStepFinishAndStopsCleanly() throws {
        let flowd = try FlowdHarness(workflows: ["slow.yaml": Self.slow])
        try flowd.start()
        try flowd.drop("x", workflow: "slow", name: "job")
        try flowd.waitUntil("the slow step is running") {
            let run = try? flowd.flowadm("show", "1", "--json").json()
            return run?["attempts"]?.arrayValue?.first?["status"] == "running"
        }
        XCTAssertEqual(try flowd.stop(signal: SIGTERM), 0, flowd.log)
        XCTAssertFalse(flowd.exists("run/control.sock"), "the socket file is removed on a clean stop")

        // The step that was running finished and is journaled; the next start goes on with
        // the next step: the finished one does not run again.
        try flowd.start()
        let run = try flowd.waitForRun(1)
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["step"] }, ["slow", "after"])
        XCTAssertEqual(attempts.first?["stdout"], "finished\n")
        XCTAssertEqual(run["status"], "succeeded")
        try flowd.waitUntil("the file reaches done/") { flowd.exists("spool/done/slow/1.job") }
    }

    func testSecondDaemonOnTheSameRootIsRefused() throws {
        let flowd = try FlowdHarness(workflows: ["slow.yaml": Self.slow])
        try flowd.start()
        let second = Process()
        second.executableURL = URL(fileURLWithPath: FlowdHarness.binaryDirectory + "/flowd")
        second.arguments = ["--root", flowd.root]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 1)
        XCTAssertTrue(message.contains("another flowd is already running"), message)
        XCTAssertEqual(flowd.flowadm("status").status, 0)
    }

    func testValidateWorksOfflineAndReportsEveryFile() throws {
        let flowd = try FlowdHarness(workflows: [
            "ok.yaml": Self.slow,
            "bad.yaml": "steps:\n  - id: x\n  - id: x\n    run: 'true'\n",
        ])
        let good = flowd.path("etc/flowd/workflows/ok.yaml"), bad = flowd.path("etc/flowd/workflows/bad.yaml")
        let result = flowd.flowadm(arguments: ["validate", good, bad], socket: false)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardOutput.contains("\(good): ok: workflow ok, 2 step(s)"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("\(bad):2:5: step \"x\" needs an action: one of run, exec, http, set, foreach, sleep, approval, trigger, uses, fail"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("\(bad):3:9: duplicate step id \"x\" (first at line 2)"), result.standardOutput)
        XCTAssertEqual(flowd.flowadm(arguments: ["validate", good], socket: false).status, 0)

        // A schedule shows its next three fire times; --json says which file is valid.
        let cron = flowd.path("etc/flowd/workflows/cron.yaml")
        try "on: { schedule: '@daily' }\nsteps: [{ id: tick, run: date }]\n".write(toFile: cron, atomically: true, encoding: .utf8)
        let scheduled = flowd.flowadm(arguments: ["validate", cron], socket: false)
        XCTAssertEqual(scheduled.status, 0, scheduled.standardOutput)
        let fireLine = scheduled.standardOutput.split(separator: "\n").first { $0.contains("schedule @daily: next ") }
        XCTAssertEqual(fireLine?.components(separatedBy: ":00:00").count, 4, scheduled.standardOutput)
        XCTAssertTrue(scheduled.standardOutput.contains("  steps: tick"), scheduled.standardOutput)
        let json = flowd.flowadm(arguments: ["validate", "--json", cron, bad], socket: false)
        XCTAssertEqual(json.status, 1)
        let files = try XCTUnwrap(JSONValue.parse(json.standardOutput)["files"]?.arrayValue)
        XCTAssertEqual(files.map { $0["valid"] }, [true, false])
        XCTAssertEqual(files[0]["next_fires"]?.arrayValue?.count, 3)
        XCTAssertEqual(files[1]["errors"]?.arrayValue?.count, 2)
    }
}
