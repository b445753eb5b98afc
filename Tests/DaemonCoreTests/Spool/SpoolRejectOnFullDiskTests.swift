// SpoolRejectOnFullDiskTests.swift: a refused file's move into rejected/ on a full disk.
// The reason is written first; when that fails (ENOSPC) the file stays where it was
// and nothing half-done is left in rejected/; once there is space the same call moves
// it with NAME.reason beside it. Needs root (mount); skips otherwise.

import Foundation
import XCTest
@testable import DaemonCore

#if canImport(Glibc)
import Glibc
#endif

final class SpoolRejectOnFullDiskTests: XCTestCase {
    private var mountPoint: String!
    private var mounted = false

    override func setUpWithError() throws {
        guard geteuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        mountPoint = NSTemporaryDirectory() + "flowd-spool-full-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard RunJournalRetryTests.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]) == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        mounted = true
    }

    override func tearDownWithError() throws {
        if mounted { _ = RunJournalRetryTests.run("/bin/umount", ["-l", mountPoint]) }
        if let mountPoint { try? FileManager.default.removeItem(atPath: mountPoint) }
    }

    func testARejectOnAFullDiskLeavesTheFileWhereItWasUntilThereIsSpace() throws {
        let spool = SpoolDirectory(root: mountPoint + "/spool")
        try spool.prepare(workflows: ["w"])
        try FileSystem.makeDirectories(mountPoint + "/spool/active/w")
        let claimed = mountPoint + "/spool/active/w/12.order.json"
        try FileSystem.createFile(claimed, contents: Array("{ not json".utf8))
        let filler = mountPoint + "/filler"
        XCTAssertGreaterThan(try RunJournalRetryTests.fill(filler), 0)

        XCTAssertThrowsError(try spool.reject(path: claimed, name: "order.json", workflow: "w", reason: "order.json: not JSON")) { error in
            XCTAssertEqual((error as? SystemError)?.errno, ENOSPC, "\(error)")
        }
        XCTAssertNotNil(try? FileSystem.status(claimed), "the claimed file stays in active/")
        XCTAssertEqual((try? FileSystem.entries(mountPoint + "/spool/rejected/w")) ?? [], [], "nothing half-done in rejected/")

        try FileSystem.removeFile(filler)
        let destination = try spool.reject(path: claimed, name: "order.json", workflow: "w", reason: "order.json: not JSON")
        XCTAssertEqual(destination, mountPoint + "/spool/rejected/w/order.json")
        XCTAssertNil(try? FileSystem.status(claimed))
        XCTAssertEqual(try FileSystem.readRegularFile(destination, maxBytes: 100), Array("{ not json".utf8))
        XCTAssertEqual(try FileSystem.readRegularFile(destination + ".reason", maxBytes: 100), Array("order.json: not JSON\n".utf8))
    }
}
