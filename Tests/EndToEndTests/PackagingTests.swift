// PackagingTests.swift: the files of packaging/ checked with the tools that will read
// them on a host: systemd-analyze (verify, security), systemd-sysusers and
// systemd-tmpfiles on a scratch root, journalctl's catalog format, scdoc. Fast (no
// release build); a test skips when its tool is not installed. The built .deb itself
// is checked by PackagingDebTests (make check-deb).

import DaemonCore
import Foundation
import XCTest

final class PackagingTests: XCTestCase {
    /// The repository's root: this file is Tests/EndToEndTests/PackagingTests.swift.
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static func packaging(_ name: String) -> String { sourceRoot + "/packaging/" + name }

    private var scratch: String!

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "flowd-packaging-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func testCatalogExplainsEveryMessageIDAndNothingElse() throws {
        let catalog = try String(contentsOfFile: Self.packaging("flowd.catalog"), encoding: .utf8)
        let ids = catalog.split(separator: "\n").filter { $0.hasPrefix("-- ") }.map { String($0.dropFirst(3)) }
        XCTAssertEqual(ids.count, Set(ids).count, "an id appears twice in flowd.catalog")
        XCTAssertEqual(Set(ids), Set(MessageID.allCases.map(\.id128)),
                       "packaging/flowd.catalog and MessageID (LogLevel.swift) list different ids")
        try requireTool("/usr/bin/journalctl")
        let root = scratch + "/catalog-root"
        try install(Self.packaging("flowd.catalog"), at: root + "/usr/lib/systemd/catalog/flowd.catalog")
        XCTAssertEqual(try runTool("/usr/bin/journalctl", ["--root=\(root)", "--update-catalog"]).status, 0)
        let listed = try runTool("/usr/bin/journalctl", ["--root=\(root)", "--list-catalog"]).output
        for id in MessageID.allCases.map(\.id128) {
            XCTAssertTrue(listed.contains(id + " flowd: "), "journalctl does not list \(id): \(listed)")
        }
    }

    func testUnitsPassSystemdAnalyzeVerify() throws {
        try requireTool("/usr/bin/systemd-analyze")
        let units = scratch + "/units"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        // ExecStart must name an existing binary: the debug build stands in for /usr/sbin/flowd.
        let service = try String(contentsOfFile: Self.packaging("flowd.service"), encoding: .utf8)
        XCTAssertTrue(service.contains("\nExecStart=/usr/sbin/flowd\n"))
        try service.replacingOccurrences(of: "ExecStart=/usr/sbin/flowd", with: "ExecStart=\(FlowdHarness.binaryDirectory)/flowd")
            .write(toFile: units + "/flowd.service", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.packaging("flowd.socket"), toPath: units + "/flowd.socket")
        // Documentation= is checked with man(1): render the pages where MANPATH points.
        let manual = try renderManPages()
        let result = try runTool("/usr/bin/systemd-analyze", ["verify", units + "/flowd.service", units + "/flowd.socket"],
                             environment: ["MANPATH": manual])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "", "systemd-analyze verify has complaints")
    }

    func testServiceExposureStaysLowAndTheSingleUserDropInLowersIt() throws {
        try requireTool("/usr/bin/systemd-analyze")
        let standard = try exposure(of: Self.packaging("flowd.service"))
        XCTAssertLessThanOrEqual(standard, 3.0, "flowd.service exposure rose to \(standard) (docs/SYSTEMD.md records it)")
        // The drop-in applied: the unit and the drop-in's [Service] in one file.
        let service = try String(contentsOfFile: Self.packaging("flowd.service"), encoding: .utf8)
        let dropIn = try String(contentsOfFile: Self.packaging("single-user.conf"), encoding: .utf8)
        let combined = scratch + "/flowd.service"
        try (service.components(separatedBy: "[Install]")[0] + dropIn).write(toFile: combined, atomically: true, encoding: .utf8)
        let strict = try exposure(of: combined)
        XCTAssertLessThanOrEqual(strict, 1.5, "single-user exposure is \(strict)")
        XCTAssertLessThan(strict, standard)
    }

    func testSysusersAndTmpfilesCreateTheUserAndTheSpool() throws {
        try requireTool("/usr/bin/systemd-sysusers")
        try requireTool("/usr/bin/systemd-tmpfiles")
        let root = scratch + "/host"
        try install(Self.packaging("flowd.sysusers"), at: root + "/usr/lib/sysusers.d/flowd.conf")
        try install(Self.packaging("flowd.tmpfiles"), at: root + "/usr/lib/tmpfiles.d/flowd.conf")
        try PackagingChecks.createUsersAndSpool(root: root)
    }

    func testManPagesRender() throws {
        let manual = try renderManPages()
        for page in ["man8/flowd.8", "man8/flowadm.8", "man5/flowd.yaml.5", "man5/flowd-workflow.5"] {
            let text = try String(contentsOfFile: manual + "/" + page, encoding: .utf8)
            XCTAssertTrue(text.contains(".TH"), "\(page) is not a man page")
        }
    }

    // MARK: - Helpers

    /// Renders packaging/man/*.scd with scdoc into SCRATCH/man/manN/; returns SCRATCH/man.
    private func renderManPages() throws -> String {
        try requireTool("/usr/bin/scdoc")
        let manual = scratch + "/man"
        let sources = try FileManager.default.contentsOfDirectory(atPath: Self.packaging("man")).filter { $0.hasSuffix(".scd") }
        XCTAssertEqual(sources.count, 4, "one source per man page: \(sources)")
        for source in sources {
            let name = String(source.dropLast(".scd".count))
            let directory = manual + "/man" + String(name.split(separator: ".").last!)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try runTool("/bin/sh", ["-c", "scdoc < \"$0\" > \"$1\"", Self.packaging("man/" + source), directory + "/" + name])
            XCTAssertEqual(result.status, 0, "scdoc \(source): \(result.output)")
        }
        return manual
    }

    private func exposure(of unit: String) throws -> Double {
        let result = try runTool("/usr/bin/systemd-analyze", ["security", "--offline=true", "--no-pager", unit])
        let line = try XCTUnwrap(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, result.output)
        let words = line.split(separator: ":").last?.split(separator: " ") ?? []
        return try XCTUnwrap(words.first.flatMap { Double($0) }, String(line))
    }

    private func install(_ source: String, at destination: String) throws {
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }
}

/// Checks shared by PackagingTests (files from packaging/) and PackagingDebTests (the
/// unpacked .deb).
enum PackagingChecks {
    /// Runs systemd-sysusers and systemd-tmpfiles on `root` as the postinst does on a
    /// host, then checks the user, the groups and the spool's owners and modes.
    static func createUsersAndSpool(root: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard getuid() == 0 else { throw XCTSkip("systemd-tmpfiles needs root to give the spool its owners") }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let users = try runTool("/usr/bin/systemd-sysusers", ["--root=\(root)", "flowd.conf"])
        XCTAssertEqual(users.status, 0, users.output, file: file, line: line)
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        let groups = try String(contentsOfFile: root + "/etc/group", encoding: .utf8)
        let flowdUser = try XCTUnwrap(passwd.split(separator: "\n").first { $0.hasPrefix("flowd:") }, passwd)
        XCTAssertTrue(flowdUser.hasSuffix(":/var/lib/flowd:/usr/sbin/nologin"), String(flowdUser), file: file, line: line)
        let uid = UInt32(flowdUser.split(separator: ":")[2])!
        let adminGroup = try XCTUnwrap(groups.split(separator: "\n").first { $0.hasPrefix("flowadm:") }, groups)
        let adminGID = UInt32(adminGroup.split(separator: ":")[2])!
        XCTAssertLessThan(uid, 1000, "flowd is a system user", file: file, line: line)

        // The ACL line names group flowadm, which the host running the test lacks: tmpfiles
        // reports it and goes on (on a real host sysusers has created the group first).
        let spool = try runTool("/usr/bin/systemd-tmpfiles", ["--create", "--root=\(root)", "flowd.conf"])
        XCTAssertEqual(spool.status, 0, spool.output, file: file, line: line)
        let expected: [(String, mode_t, UInt32)] = [
            ("var/spool/flowd", 0o755, uid), ("var/spool/flowd/incoming", 0o2775, adminGID),
            ("var/spool/flowd/active", 0o750, adminGID), ("var/spool/flowd/done", 0o750, adminGID),
            ("var/spool/flowd/hold", 0o750, adminGID), ("var/spool/flowd/rejected", 0o750, adminGID),
        ]
        for (path, mode, group) in expected {
            var info = stat()
            XCTAssertEqual(lstat(root + "/" + path, &info), 0, "\(path) was not created", file: file, line: line)
            XCTAssertEqual(info.st_mode & 0o7777, mode, "mode of \(path)", file: file, line: line)
            XCTAssertEqual(info.st_uid, uid, "\(path) belongs to flowd", file: file, line: line)
            if path != "var/spool/flowd" { XCTAssertEqual(info.st_gid, group, "group of \(path)", file: file, line: line) }
        }
    }
}

/// What a command printed (stdout and stderr together) and how it exited.
struct ToolResult {
    var status: Int32
    var output: String
}

/// Runs `executable` with `arguments`; `environment` entries are added to this process's.
func runTool(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// Skips the test when `path` is not installed.
func requireTool(_ path: String) throws {
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw XCTSkip("\(path) is not installed (make deb-deps installs the packaging tools)")
    }
}
