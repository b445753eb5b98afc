// JournaldTests.swift: an entry logged by DaemonLogger reaches a real journald with its
// structured fields, so that `journalctl FLOWD_RUN=<id>` finds it (SPEC section 6).
//
// Needs root and /lib/systemd/systemd-journald. Uses the running journald when there is
// one; otherwise starts one for the test and afterwards stops that one (by its pid) and
// removes the runtime directories it created.

import Foundation
import XCTest
@testable import DaemonCore

final class JournaldTests: XCTestCase {
    private static let journaldPath = "/lib/systemd/systemd-journald"
    private static let socketPath = "/run/systemd/journal/socket"
    /// Directories a journald started here creates; removed afterwards if new.
    private static let runtimeDirectories = ["/run/systemd/journal", "/run/log/journal"]

    private var startedJournald: Process?
    private var createdDirectories: [String] = []

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root to talk to or start a system journald") }
        guard FileManager.default.isExecutableFile(atPath: Self.journaldPath) else {
            throw XCTSkip("\(Self.journaldPath) is not installed")
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

    func testEntryReachesJournaldWithStructuredFields() throws {
        let standardError = try StandardErrorCapturePipe()
        let logger = DaemonLogger(
            identifier: "flowd", minimumLevel: .info, destination: .journald,
            journalSocketPath: DaemonLogger.defaultJournalSocketPath,
            standardErrorDescriptor: standardError.writeDescriptor,
            journalStream: nil,
            journalTransport: { LibSystemd.journalSend($0) }
        )
        let run = "test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        logger.notice("run \(run) finished: succeeded", id: .runFinished, fields: [
            "FLOWD_RUN": run, "FLOWD_WORKFLOW": "hello", "FLOWD_STATUS": "succeeded",
        ])
        XCTAssertEqual(standardError.read(), "", "journald accepted the entry, so nothing falls back to stderr")

        let entry = try XCTUnwrap(try waitForEntry(run: run), "journalctl FLOWD_RUN=\(run) found nothing within 5 s")
        XCTAssertEqual(entry["MESSAGE"] as? String, "run \(run) finished: succeeded")
        XCTAssertEqual(entry["PRIORITY"] as? String, "5")
        XCTAssertEqual(entry["SYSLOG_IDENTIFIER"] as? String, "flowd")
        XCTAssertEqual(entry["MESSAGE_ID"] as? String, MessageID.runFinished.id128)
        XCTAssertEqual(entry["FLOWD_WORKFLOW"] as? String, "hello")
        XCTAssertEqual(entry["FLOWD_STATUS"] as? String, "succeeded")
        XCTAssertEqual(entry["CODE_FUNC"] as? String, "testEntryReachesJournaldWithStructuredFields()")
        XCTAssertEqual(entry["CODE_FILE"] as? String, "DaemonCoreTests/JournaldTests.swift")
    }

    // MARK: - Helpers

    /// Polls `journalctl FLOWD_RUN=<run> -o json` (journald indexes asynchronously).
    private func waitForEntry(run: String) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            let output = try journalctl(["FLOWD_RUN=\(run)", "-o", "json", "--no-pager"])
            if let line = output.split(separator: "\n").first,
               let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
                return object
            }
            Thread.sleep(forTimeInterval: 0.1)
        } while Date() < deadline
        return nil
    }

    private func journalctl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether something accepts datagrams on journald's socket (a socket file left
    /// by a journald that has exited refuses the connection).
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
