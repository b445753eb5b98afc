// End to end: the control plane's read verbs, streaming, authorization, and a
// third-party Varlink client (the Python `varlink` package) against the real daemon.

import DaemonCore
import Foundation
import XCTest

final class ControlPlaneTests: XCTestCase {
    static let workflows = [
        "greet.yaml": """
            description: says hello
            on: { spool: { format: json } }
            steps:
              - id: hello
                run: echo "hello $FLOWD_RUN"
              - id: check
                run: test "$FLOWD_TRIGGER_NAME" != fail.json || { echo "refusing" >&2; exit 4; }
            """,
    ]

    func testLogsStatsMetricsSpoolAndWorkflowVerbs() throws {
        let flowd = try FlowdHarness(workflows: Self.workflows)
        try flowd.start()
        try flowd.drop("{}", workflow: "greet", name: "ok.json")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        try flowd.drop("{}", workflow: "greet", name: "fail.json")
        XCTAssertEqual(try flowd.waitForRun(2)["status"], "failed")
        try flowd.drop("{oops", workflow: "greet", name: "broken.json")
        try flowd.waitUntil("the broken file is rejected") { flowd.exists("spool/rejected/greet/broken.json.reason") }

        let logs = flowd.flowadm("logs", "2")
        XCTAssertEqual(logs.status, 0)
        XCTAssertTrue(logs.standardOutput.contains("hello #1 succeeded (exit 0"), logs.standardOutput)
        XCTAssertTrue(logs.standardOutput.contains("  | hello 2"), logs.standardOutput)
        XCTAssertTrue(logs.standardOutput.contains("check #1 failed (exit 4"), logs.standardOutput)
        XCTAssertTrue(logs.standardOutput.contains("  ! refusing"), logs.standardOutput)

        let stats = try XCTUnwrap(try flowd.flowadm("stats", "greet", "--json").json()["workflows"]?.arrayValue?.first)
        XCTAssertEqual(stats["runs"], 2)
        XCTAssertEqual(stats["succeeded"], 1)
        XCTAssertEqual(stats["failed"], 1)
        XCTAssertEqual(stats["success_rate"], 0.5)
        XCTAssertEqual(stats["most_failing_step"]?["step"], "check")
        XCTAssertEqual(stats["last_error"]?["run"], 2)
        XCTAssertEqual(stats["last_error"]?["error"], "exited with status 4")
        XCTAssertEqual(flowd.flowadm("stats", "nosuch").status, 3)

        let metrics = flowd.flowadm("metrics").standardOutput
        XCTAssertTrue(metrics.contains("flowd_journal_runs{workflow=\"greet\",status=\"succeeded\"} 1\n"), metrics)
        XCTAssertTrue(metrics.contains("flowd_journal_runs{workflow=\"greet\",status=\"failed\"} 1\n"), metrics)
        XCTAssertTrue(metrics.contains("flowd_spool_rejected_files 1\n"), metrics)
        try assertValidExposition(metrics)

        let spool = try flowd.flowadm("spool", "--json").json()
        let rejected = try XCTUnwrap(spool["rejected"]?.arrayValue?.first)
        XCTAssertEqual(rejected["file"], "broken.json")
        XCTAssertTrue(rejected["reason"]?.stringValue?.contains("payload is not valid JSON") ?? false)

        let workflow = try flowd.flowadm("workflow", "greet", "--json").json()
        XCTAssertEqual(workflow["workflow"]?["description"], "says hello")
        XCTAssertEqual(workflow["versions"]?.arrayValue?.count, 1)
        XCTAssertEqual(flowd.flowadm("workflow", "nosuch").status, 3)

        let recent = try flowd.flowadm("runs", "--since", "10m", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(recent.count, 2)
        let future = try flowd.flowadm("runs", "--since", "2999-01-01", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(future.count, 0)
        XCTAssertEqual(flowd.flowadm("runs", "--since", "yesterday-ish").status, 2)

        let reload = flowd.flowadm("reload")
        XCTAssertEqual(reload.status, 0)
        XCTAssertEqual(reload.standardOutput, "reloaded: 1 workflow(s), 0 file(s) with errors\n")
    }

    /// Checks the text format's shape: HELP and TYPE before each family's samples, names
    /// and label syntax as the exposition format requires.
    private func assertValidExposition(_ text: String) throws {
        let sample = try NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? -?[0-9.e+]+$"#)
        var declared: Set<String> = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") { declared.insert(String(line.split(separator: " ")[2])); continue }
            if line.hasPrefix("# HELP ") { continue }
            XCTAssertEqual(sample.numberOfMatches(in: line, range: NSRange(line.startIndex..., in: line)), 1, "bad sample line: \(line)")
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            XCTAssertTrue(declared.contains(name), "sample before its TYPE line: \(line)")
        }
    }

    func testWatchAndFollowStreamLiveEvents() throws {
        let flowd = try FlowdHarness(workflows: ["slow.yaml": """
            on: { spool: { format: raw } }
            steps:
              - id: first
                run: sleep 0.3; echo one
              - id: second
                run: echo two
            """])
        try flowd.start()
        let watch = try flowd.startFlowadm(["watch", "--json"])
        try flowd.waitUntil("watch is subscribed") { flowd.errorOutput(of: watch).contains("watching flowd events") }
        try flowd.drop("x", workflow: "slow", name: "job")
        try flowd.waitUntil("the run is running") { (try? flowd.flowadm("show", "1", "--json").json()["status"]) == "running" }
        let follow = flowd.flowadm("logs", "1", "-f")
        XCTAssertEqual(follow.status, 0, follow.standardError)
        XCTAssertTrue(follow.standardOutput.contains("first #1 succeeded"), follow.standardOutput)
        XCTAssertTrue(follow.standardOutput.contains("  | two"), follow.standardOutput)
        XCTAssertTrue(follow.standardOutput.hasSuffix("run 1 succeeded\n"), follow.standardOutput)

        try flowd.waitUntil("watch has printed the run's end") { flowd.standardOutput(of: watch).contains("run_finished") }
        let events = try flowd.stopFlowadm(watch).split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        XCTAssertEqual(events.compactMap { $0["kind"]?.stringValue }, [
            "run_queued", "run_started", "attempt_started", "attempt_finished", "attempt_started", "attempt_finished", "run_finished",
        ])
        XCTAssertEqual(events.last?["status"], "succeeded")
        XCTAssertEqual(events[3]["stdout"], "one\n")
    }

    func testUnprivilegedCallerIsRefused() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to run flowadm as another user (setpriv)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("setpriv is not installed") }
        let flowd = try FlowdHarness(workflows: Self.workflows)
        try flowd.start()
        // Let "nobody" reach the socket, so the daemon's own check is what refuses.
        XCTAssertEqual(chmod(flowd.root, 0o755), 0)
        XCTAssertEqual(chmod(flowd.path("run"), 0o755), 0)
        XCTAssertEqual(chmod(flowd.path("run/control.sock"), 0o666), 0)
        let asNobody = flowd.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                      FlowdHarness.binaryDirectory + "/flowadm", "--root", flowd.root, "status"])
        XCTAssertEqual(asNobody.status, 4, asNobody.standardError)
        XCTAssertTrue(asNobody.standardError.contains("permission denied: uid 65534 may not call GetStatus"), asNobody.standardError)
        XCTAssertEqual(flowd.flowadm("status").status, 0, "root still may")
    }

    /// `on.manual: false`: an owner may not start the workflow by hand, an admin still may;
    /// an owner of a workflow that takes manual triggers may.
    func testManualFalseRefusesOwnersButNotAdmins() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to run flowadm as another user (setpriv)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("setpriv is not installed") }
        let flowd = try FlowdHarness(workflows: [
            "closed.yaml": "owners: [nogroup]\non: { manual: false, spool: { format: json } }\nsteps:\n  - id: s\n    run: 'true'\n",
            "open.yaml": "owners: [nogroup]\non: { manual: true }\nsteps:\n  - id: s\n    run: 'true'\n",
        ])
        try flowd.start()
        XCTAssertEqual(chmod(flowd.root, 0o755), 0)
        XCTAssertEqual(chmod(flowd.path("run"), 0o755), 0)
        XCTAssertEqual(chmod(flowd.path("run/control.sock"), 0o666), 0)
        func asOwner(_ arguments: String...) -> CommandResult {
            flowd.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                           FlowdHarness.binaryDirectory + "/flowadm", "--root", flowd.root] + arguments)
        }
        let refused = asOwner("trigger", "closed")
        XCTAssertEqual(refused.status, 4, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("workflow closed does not take manual triggers (on.manual is false)"), refused.standardError)
        XCTAssertEqual(asOwner("trigger", "open").status, 0, "an owner may trigger a workflow that takes manual triggers")
        let byAdmin = flowd.flowadm("trigger", "closed", "--wait")
        XCTAssertEqual(byAdmin.status, 0, "admins always may: \(byAdmin.standardError)")
    }

    func testThirdPartyVarlinkClient() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/varlink_client.py").path
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import varlink"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { throw XCTSkip("the Python varlink package is not installed (pip install varlink)") }

        let flowd = try FlowdHarness(workflows: Self.workflows)
        try flowd.start()
        try flowd.drop("{\"who\": \"python\"}", workflow: "greet", name: "py.json")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded")
        let result = flowd.run("/usr/bin/env", ["python3", script, flowd.path("run/control.sock"), "1"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let output = try result.json()
        XCTAssertEqual(output["info"]?["product"], "flowd")
        XCTAssertEqual(output["info"]?["interfaces"], ["org.varlink.service", "io.flowd.Control"])
        XCTAssertEqual(output["status"]?["phase"], "running")
        XCTAssertEqual(output["workflows"]?["workflows"]?.arrayValue?.first?["name"], "greet")
        XCTAssertEqual(output["runs"]?["runs"]?.arrayValue?.first?["id"], 1)
        XCTAssertEqual(output["run"]?["run"]?["payload"], ["who": "python"])
        XCTAssertEqual(output["run"]?["run"]?["attempts"]?.arrayValue?.first?["stdout"], "hello 1\n")
        XCTAssertEqual(output["stats"]?["workflows"]?.arrayValue?.first?["runs"], 1)
        XCTAssertEqual(output["metrics_head"], "# HELP flowd_up 1 while flowd answers on its control socket.")
        XCTAssertEqual(output["missing"]?["error"], "io.flowd.Control.NotFound")
        XCTAssertEqual(output["watch_first"]?["event"]?["kind"], "watching")
    }
}

final class TerminalOutputTests: XCTestCase {
    /// On a real terminal (a pty from script(1)) 60 columns wide, tables are cut to fit;
    /// piped output keeps every character.
    func testTablesFitTheTerminalWidth() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("script(1) is not installed") }
        let description = "a description long enough to overflow any narrow terminal window by a wide margin"
        let flowd = try FlowdHarness(workflows: [
            "a-workflow-with-a-rather-long-name.yaml": "description: \(description)\non: { manual: true }\nsteps:\n  - id: s\n    run: 'true'\n",
        ])
        try flowd.start()
        let command = "stty cols 60; \(FlowdHarness.binaryDirectory)/flowadm --root \(flowd.root) workflows"
        let result = flowd.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = result.standardOutput.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 2)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 60, "too wide for the terminal: \(line)") }
        XCTAssertTrue(lines.joined().contains("…"), result.standardOutput)

        let piped = flowd.flowadm("workflows").standardOutput
        XCTAssertTrue(piped.contains("a-workflow-with-a-rather-long-name"), piped)
    }
}
