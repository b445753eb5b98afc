// SystemdSocketActivationTests.swift: the control socket handed over by socket
// activation (flowd.socket; here systemd-socket-activate, which binds the socket,
// waits for the first connection and execs flowd with LISTEN_FDS=1). flowd serves the
// passed socket instead of binding its own, leaves the socket file alone on exit (it
// belongs to systemd) and its steps never see LISTEN_*.

import DaemonCore
import Foundation
import XCTest

final class SystemdSocketActivationTests: XCTestCase {
    static let activator = "/usr/bin/systemd-socket-activate"
    static let env = """
        on: { spool: { format: raw } }
        steps:
          - id: env
            run: env
        """

    func testFlowdServesTheSocketItWasHanded() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.activator) else {
            throw XCTSkip("\(Self.activator) is not installed (Debian package systemd)")
        }
        let flowd = try FlowdHarness(workflows: ["env.yaml": Self.env])
        let socketPath = flowd.path("activated.sock")
        flowd.launcher = [Self.activator, "-l", socketPath]
        flowd.socketPath = socketPath
        try flowd.start()  // the first flowadm status connects, systemd-socket-activate execs flowd

        let status = try flowd.flowadm("status", "--json").json()
        XCTAssertEqual(status["phase"], "running")
        XCTAssertFalse(flowd.exists("run/control.sock"), "flowd did not bind a socket of its own")
        XCTAssertTrue(flowd.log.contains("(socket-activated)"), flowd.log)

        try flowd.drop("x", workflow: "env", name: "job")
        let run = try flowd.waitForRun(1)
        let environment = run["attempts"]?.arrayValue?.first?["stdout"]?.stringValue ?? ""
        XCTAssertTrue(environment.contains("FLOWD_STEP=env"), environment)
        for variable in ["LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES="] {
            XCTAssertFalse(environment.contains(variable), "a step saw \(variable): \(environment)")
        }

        XCTAssertEqual(try flowd.stop(), 0, flowd.log)
        XCTAssertTrue(flowd.exists("activated.sock"), "the activated socket's file is systemd's, not removed by flowd")
    }

    func testFlowdBindsItsOwnSocketWithoutActivation() throws {
        let flowd = try FlowdHarness(workflows: ["env.yaml": Self.env])
        // LISTEN_* meant for another process (a parent's leftovers) are ignored.
        flowd.environment = ["LISTEN_FDS": "1", "LISTEN_PID": "1"]
        try flowd.start()
        var info = stat()
        XCTAssertEqual(lstat(flowd.path("run/control.sock"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660, "the control socket is mode 0660")
        XCTAssertFalse(flowd.log.contains("(socket-activated)"), flowd.log)
        XCTAssertEqual(try flowd.stop(), 0, flowd.log)
        XCTAssertFalse(flowd.exists("run/control.sock"), "a socket flowd bound itself is removed on a clean stop")
    }
}
