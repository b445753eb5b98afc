// SystemdJournaldTests.swift: a run's story in journald, as `journalctl FLOWD_RUN=N`
// shows it (SPEC section 6): the real flowd logs run start, step attempt ends and run
// end with their fixed MESSAGE_IDs, priorities and FLOWD_* fields.
//
// Needs root and /lib/systemd/systemd-journald. Uses the running journald when there is
// one; otherwise starts one for the test and afterwards stops that one (by its pid) and
// removes the runtime directories it created. Entries are matched on flowd's _PID, so
// runs of earlier tests with the same run number never count.

import DaemonCore
import Foundation
import XCTest

final class SystemdJournaldTests: XCTestCase {
    private static let journaldPath = "/lib/systemd/systemd-journald"
    private static let socketPath = "/run/systemd/journal/socket"
    private static let runtimeDirectories = ["/run/systemd/journal", "/run/log/journal"]

    private var startedJournald: Process?
    private var createdDirectories: [String] = []

    static let workflow = """
        on: { spool: { format: raw } }
        steps:
          - id: first
            run: echo one
          - id: second
            run: exit 3
        """

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to talk to or start a system journald") }
        guard FileManager.default.isExecutableFile(atPath: Self.journaldPath) else {
            throw XCTSkip("\(Self.journaldPath) is not installed (Debian package systemd)")
        }
        if Self.journaldIsListening() { return }
        createdDirectories = Self.runtimeDirectories.filter { !FileManager.default.fileExists(atPath: $0) }
        try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        let journald = Process()
        journald.executableURL = URL(fileURLWithPath: Self.journaldPath)
        journald.standardOutput = FileHandle.nullDevice
        journald.standardError = FileHandle.nullDevice
        try journald.run()
        startedJournald = journald
        let deadline = Date().addingTimeInterval(5)
        while !Self.journaldIsListening() {
            guard Date() < deadline, journald.isRunning else {
                XCTFail("journald did not open \(Self.socketPath) within 5 s")
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    override func tearDown() {
        if let journald = startedJournald {
            journald.terminate()  // SIGTERM to that pid only
            journald.waitUntilExit()
            startedJournald = nil
        }
        for directory in createdDirectories { try? FileManager.default.removeItem(atPath: directory) }
        createdDirectories = []
    }

    func testJournalctlShowsTheStoryOfARun() throws {
        let flowd = try FlowdHarness(workflows: ["story.yaml": Self.workflow])
        try flowd.start()
        let pid = try XCTUnwrap(flowd.processIdentifier)
        try flowd.drop("x", workflow: "story", name: "job")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "failed")

        var entries: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(10)
        repeat {  // journald indexes asynchronously
            entries = try journalctl(["FLOWD_RUN=1", "_PID=\(pid)", "-o", "json", "--no-pager"])
            if entries.count >= 4 { break }
            Thread.sleep(forTimeInterval: 0.1)
        } while Date() < deadline
        XCTAssertEqual(try flowd.stop(), 0)

        let story = entries.map { "\($0["MESSAGE_ID"] as? String ?? "-") \($0["MESSAGE"] as? String ?? "")" }
        let ids = entries.compactMap { $0["MESSAGE_ID"] as? String }
        XCTAssertEqual(ids, [MessageID.runStarted.id128, MessageID.stepAttemptFinished.id128,
                             MessageID.stepAttemptFinished.id128, MessageID.runFinished.id128], "\(story)")
        guard entries.count == 4 else { return }
        for entry in entries {
            XCTAssertEqual(entry["SYSLOG_IDENTIFIER"] as? String, "flowd")
            XCTAssertEqual(entry["FLOWD_WORKFLOW"] as? String, "story")
            XCTAssertEqual(entry["FLOWD_RUN"] as? String, "1")
            XCTAssertNotNil(entry["CODE_FILE"] as? String, "\(entry)")
            XCTAssertNotNil(entry["CODE_LINE"] as? String, "\(entry)")
        }
        let (started, first, second, finished) = (entries[0], entries[1], entries[2], entries[3])
        XCTAssertEqual(started["PRIORITY"] as? String, "6")
        XCTAssertEqual(first["FLOWD_STEP"] as? String, "first")
        XCTAssertEqual(first["FLOWD_ATTEMPT"] as? String, "1")
        XCTAssertEqual(first["FLOWD_STATUS"] as? String, "succeeded")
        XCTAssertEqual(first["PRIORITY"] as? String, "6", "a succeeded attempt is info")
        XCTAssertEqual(second["FLOWD_STEP"] as? String, "second")
        XCTAssertEqual(second["FLOWD_STATUS"] as? String, "failed")
        XCTAssertEqual(second["PRIORITY"] as? String, "4", "a failed attempt is a warning")
        XCTAssertEqual(finished["FLOWD_STATUS"] as? String, "failed")
        XCTAssertEqual(finished["PRIORITY"] as? String, "3", "a failed run is an error")
        XCTAssertTrue((finished["MESSAGE"] as? String ?? "").contains("second"), "\(finished)")
        XCTAssertNotNil((second["FLOWD_DURATION_MS"] as? String).flatMap(Int.init), "\(second)")
        XCTAssertNotNil((finished["FLOWD_DURATION_MS"] as? String).flatMap(Int.init), "\(finished)")
    }

    // MARK: - Helpers

    private func journalctl(_ arguments: [String]) throws -> [[String: Any]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Whether something accepts datagrams on journald's socket.
    private static func journaldIsListening() -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
