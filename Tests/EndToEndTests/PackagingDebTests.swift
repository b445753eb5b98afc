// PackagingDebTests.swift: the built Debian package, unpacked into a scratch root with
// dpkg -x as dpkg would install it: its metadata, files and modes, the units against
// the installed binary, users and spool from its sysusers.d/tmpfiles.d, and the
// installed (release, statically linked Swift) flowd and flowadm running a workflow.
//
// Runs only when FLOWD_DEB names the .deb (make check-deb sets it after building it);
// otherwise every test skips. Never runs the maintainer scripts: they act on the host.

import DaemonCore
import Foundation
import XCTest

final class PackagingDebTests: XCTestCase {
    private var deb: String!
    private var root: String!

    override func setUpWithError() throws {
        guard let path = ProcessInfo.processInfo.environment["FLOWD_DEB"] else {
            throw XCTSkip("FLOWD_DEB is not set; make check-deb builds the package and runs these tests")
        }
        deb = path
        root = NSTemporaryDirectory() + "flowd-deb-" + UUID().uuidString.prefix(8)
        let unpacked = try runTool("/usr/bin/dpkg", ["-x", deb, root])
        XCTAssertEqual(unpacked.status, 0, unpacked.output)
    }

    override func tearDown() {
        if let root { try? FileManager.default.removeItem(atPath: root) }
    }

    func testMetadataNamesTheLibrariesAndNoSwiftRuntime() throws {
        let depends = try runTool("/usr/bin/dpkg-deb", ["-f", deb, "Depends"]).output
        for library in ["libyaml-0-2", "libsystemd0", "libsqlite3-0", "libc6", "libcurl4", "systemd"] {
            XCTAssertTrue(depends.contains(library), "Depends lacks \(library): \(depends)")
        }
        XCTAssertFalse(depends.lowercased().contains("swift"), depends)
        XCTAssertEqual(try runTool("/usr/bin/dpkg-deb", ["-f", deb, "Package"]).output, "flowd\n")
        let contents = try runTool("/usr/bin/dpkg-deb", ["-c", deb]).output
        for line in contents.split(separator: "\n") {
            XCTAssertTrue(line.contains(" root/root "), "not owned by root: \(line)")
        }
        let control = try runTool("/usr/bin/dpkg-deb", ["-e", deb, root + "/DEBIAN"])
        XCTAssertEqual(control.status, 0, control.output)
        XCTAssertEqual(try String(contentsOfFile: root + "/DEBIAN/conffiles", encoding: .utf8), "/etc/flowd/flowd.yaml\n")
        for script in ["postinst", "prerm", "postrm"] {
            let syntax = try runTool("/bin/sh", ["-n", root + "/DEBIAN/" + script])
            XCTAssertEqual(syntax.status, 0, "\(script): \(syntax.output)")
        }
        let postinst = try String(contentsOfFile: root + "/DEBIAN/postinst", encoding: .utf8)
        XCTAssertTrue(postinst.contains("systemd-sysusers flowd.conf"))
        XCTAssertTrue(postinst.contains("systemd-tmpfiles --create flowd.conf"))
        XCTAssertTrue(postinst.contains("if [ -d /run/systemd/system ]"), "starts units only when systemd runs")
    }

    func testFilesAndModes() throws {
        let expected: [(String, mode_t)] = [
            ("usr/sbin/flowd", 0o755), ("usr/bin/flowadm", 0o755), ("etc/flowd/flowd.yaml", 0o644),
            ("etc/flowd/workflows", 0o755), ("lib/systemd/system/flowd.service", 0o644),
            ("lib/systemd/system/flowd.socket", 0o644), ("usr/lib/sysusers.d/flowd.conf", 0o644),
            ("usr/lib/tmpfiles.d/flowd.conf", 0o644), ("usr/lib/systemd/catalog/flowd.catalog", 0o644),
            ("usr/share/man/man8/flowd.8.gz", 0o644), ("usr/share/man/man8/flowadm.8.gz", 0o644),
            ("usr/share/man/man5/flowd.yaml.5.gz", 0o644), ("usr/share/man/man5/flowd-workflow.5.gz", 0o644),
            ("usr/share/doc/flowd/copyright", 0o644), ("usr/share/doc/flowd/changelog.gz", 0o644),
            ("usr/share/doc/flowd/SYSTEMD.md", 0o644), ("usr/share/doc/flowd/examples/single-user.conf", 0o644),
            ("usr/share/doc/flowd/examples/workflows/hello.yaml", 0o644),
            ("usr/share/flowd/connectors/slack.yaml", 0o644), ("usr/share/flowd/connectors/webhook.yaml", 0o644),
        ]
        for (path, mode) in expected {
            var info = stat()
            XCTAssertEqual(lstat(root + "/" + path, &info), 0, "\(path) is missing")
            XCTAssertEqual(info.st_mode & 0o7777, mode, "mode of \(path)")
        }
        let workflows = try FileManager.default.contentsOfDirectory(atPath: root + "/etc/flowd/workflows")
        XCTAssertEqual(workflows, [], "the package must not enable example workflows")
        let configuration = try String(contentsOfFile: root + "/etc/flowd/flowd.yaml", encoding: .utf8)
        XCTAssertNoThrow(try DaemonConfiguration.load(path: root + "/etc/flowd/flowd.yaml"), configuration)
        for binary in ["usr/sbin/flowd", "usr/bin/flowadm"] {
            let sections = try runTool("/usr/bin/readelf", ["-S", "-W", root + "/" + binary]).output
            XCTAssertFalse(sections.contains(".symtab"), "\(binary) is not stripped")
            XCTAssertFalse(sections.contains(".debug_info"), "\(binary) has debug info")
            let libraries = try runTool("/usr/bin/ldd", [root + "/" + binary]).output
            XCTAssertFalse(libraries.contains("swift"), "\(binary) needs a Swift runtime: \(libraries)")
            XCTAssertFalse(libraries.contains("not found"), libraries)
        }
    }

    func testInstalledBinariesRunAWorkflow() throws {
        let version = try runTool(root + "/usr/sbin/flowd", ["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.output, "flowd \(FlowdVersion.current)\n")
        XCTAssertEqual(try runTool(root + "/usr/bin/flowadm", ["--version"]).status, 0)

        let hello = try String(contentsOfFile: root + "/usr/share/doc/flowd/examples/workflows/hello.yaml", encoding: .utf8)
        let flowd = try FlowdHarness(workflows: ["hello.yaml": hello],
                                     binaries: (root + "/usr/sbin/flowd", root + "/usr/bin/flowadm"))
        try flowd.start()
        try flowd.drop(#"{"name": "package"}"#, workflow: "hello", name: "from-the-deb.json")
        XCTAssertEqual(try flowd.waitForRun(1)["status"], "succeeded", flowd.log)
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testInstalledUnitsVerifyAgainstTheInstalledBinary() throws {
        try requireTool("/usr/bin/systemd-analyze")
        let units = root + "/verify"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        let service = try String(contentsOfFile: root + "/lib/systemd/system/flowd.service", encoding: .utf8)
        try service.replacingOccurrences(of: "ExecStart=/usr/sbin/flowd", with: "ExecStart=\(root!)/usr/sbin/flowd")
            .write(toFile: units + "/flowd.service", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: root + "/lib/systemd/system/flowd.socket", toPath: units + "/flowd.socket")
        let result = try runTool("/usr/bin/systemd-analyze", ["verify", units + "/flowd.service", units + "/flowd.socket"],
                                 environment: ["MANPATH": root + "/usr/share/man"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "", "systemd-analyze verify has complaints")
    }

    func testSysusersAndTmpfilesFromThePackage() throws {
        try requireTool("/usr/bin/systemd-sysusers")
        try requireTool("/usr/bin/systemd-tmpfiles")
        try PackagingChecks.createUsersAndSpool(root: root)
    }
}
