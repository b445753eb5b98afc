// FlowdHarness.swift: starts the real flowd on a temporary --root and drives it with
// the real flowadm, as a sysadmin would. Binaries are found beside the test bundle
// (swift build puts them there) or in $FLOWD_BIN_DIR. Tests of the systemd integration
// set `environment` (NOTIFY_SOCKET, WATCHDOG_USEC), a `launcher` such as
// systemd-socket-activate, and `socketPath` before start().

import DaemonCore
import Foundation
import XCTest

/// What a flowadm invocation printed and how it exited.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String

    /// stdout parsed as JSON (for --json calls).
    func json(file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        do {
            return try JSONValue.parse(standardOutput)
        } catch {
            XCTFail("flowadm printed no JSON (status \(status)): \(standardOutput) \(standardError)", file: file, line: line)
            throw error
        }
    }
}

final class FlowdHarness {
    let root: String
    private(set) var daemon: Process?
    private var daemonLog: FileHandle?
    let logPath: String
    /// Changes to the environment flowd starts with (nil removes a variable).
    /// NOTIFY_SOCKET is removed unless set here.
    var environment: [String: String?] = [:]
    /// A command flowd is started through, e.g. ["/usr/bin/systemd-socket-activate", "-l", PATH];
    /// flowd's path and arguments are appended. It must exec flowd (same pid).
    var launcher: [String] = []
    /// The control socket flowadm talks to; nil means `--root`'s (ROOT/run/control.sock).
    var socketPath: String?
    /// Where flowd and flowadm are taken from (PackagingDebTests use the installed ones).
    let binaries: (flowd: String, flowadm: String)

    /// flowd's pid while it runs (with a launcher: the pid the launcher execs flowd in).
    var processIdentifier: Int32? {
        guard let daemon else { return nil }
        guard !launcher.isEmpty else { return daemon.processIdentifier }
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: launcherPIDPath, encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            usleep(10_000)
        }
        return nil
    }
    private var launcherPIDPath: String { root + "/launcher.pid" }

    static var binaryDirectory: String {
        if let override = ProcessInfo.processInfo.environment["FLOWD_BIN_DIR"] { return override }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/flowdPackageTests.xctest (a file on Linux) → .../debug
        return testBinary.deletingLastPathComponent().path
    }

    /// - Parameter binaries: flowd's and flowadm's paths; default: those in `binaryDirectory`.
    init(workflows: [String: String], configuration: String? = nil,
         binaries: (flowd: String, flowadm: String)? = nil) throws {
        self.binaries = binaries ?? (Self.binaryDirectory + "/flowd", Self.binaryDirectory + "/flowadm")
        root = NSTemporaryDirectory() + "flowd-e2e-" + UUID().uuidString.prefix(8)
        logPath = root + "/flowd.log"
        let workflowDirectory = root + "/etc/flowd/workflows"
        try FileManager.default.createDirectory(atPath: workflowDirectory, withIntermediateDirectories: true)
        for (name, text) in workflows {
            try text.write(toFile: workflowDirectory + "/" + name, atomically: true, encoding: .utf8)
        }
        if let configuration {
            try configuration.write(toFile: root + "/etc/flowd/flowd.yaml", atomically: true, encoding: .utf8)
        }
        for binary in [self.binaries.flowd, self.binaries.flowadm] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw XCTSkip("\(binary) is not built; run `swift build` first (make test does)")
        }
    }

    deinit {
        if let daemon, daemon.isRunning {
            if !launcher.isEmpty, let pid = processIdentifier { kill(pid, SIGTERM) }
            daemon.terminate()
            daemon.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Starts flowd and, unless `waitForSocket` is false, waits until its control socket answers.
    func start(waitForSocket: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let process = Process()
        let command = launcher + [binaries.flowd, "--root", root]
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        } else {
            // Foundation's Process takes a child that closes every inherited descriptor
            // before exec (systemd-socket-activate does) for an exited one and blocks in
            // waitpid. So a shell stays in between: it starts the launcher, records its
            // pid and exits with its status.
            try? FileManager.default.removeItem(atPath: launcherPIDPath)
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", #""$@" & echo $! > "$FLOWD_LAUNCHER_PID"; wait $!"#, "sh"] + command
        }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil
        for (name, value) in self.environment { environment[name] = value }
        if !launcher.isEmpty { environment["FLOWD_LAUNCHER_PID"] = launcherPIDPath }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()
        daemon = process
        daemonLog = log
        guard waitForSocket else { return }
        try waitUntil("flowd answers on its control socket", timeout: 20, file: file, line: line) {
            guard process.isRunning else { throw DaemonExited(log: self.log) }
            return self.flowadm("status").status == 0
        }
    }

    struct WaitTimedOut: Error, CustomStringConvertible { var description: String }

    struct DaemonExited: Error, CustomStringConvertible {
        var log: String
        var description: String { "flowd exited early; its log:\n\(log)" }
    }

    /// Sends `signal` and waits for flowd to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) throws -> Int32 {
        guard let daemon, let pid = processIdentifier else { return -1 }
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while daemon.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(daemon.isRunning, "flowd did not exit within \(timeout)s of signal \(signal)")
        if daemon.isRunning { kill(pid, SIGKILL); kill(daemon.processIdentifier, SIGKILL) }
        daemon.waitUntilExit()
        self.daemon = nil
        try? daemonLog?.close()
        return daemon.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs the real flowadm against this daemon.
    @discardableResult
    func flowadm(_ arguments: String..., socket: Bool = true) -> CommandResult {
        flowadm(arguments: arguments, socket: socket)
    }

    func flowadm(arguments: [String], socket: Bool = true) -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaries.flowadm)
        let target = socketPath.map { ["--socket", $0] } ?? ["--root", root]
        process.arguments = (socket ? target : []) + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return CommandResult(status: -1, standardOutput: "", standardError: "\(error)") }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             standardOutput: String(decoding: outputData, as: UTF8.self),
                             standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// Runs any program and collects its output.
    func run(_ executable: String, _ arguments: [String]) -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return CommandResult(status: -1, standardOutput: "", standardError: "\(error)") }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
                             standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// Starts a long-running flowadm (watch, logs -f) writing to a file.
    func startFlowadm(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryDirectory + "/flowadm")
        process.arguments = ["--root", root] + arguments
        let outputPath = root + "/flowadm-\(UUID().uuidString.prefix(8)).out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: outputPath + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath + ".err"))
        process.environment = ["FLOWADM_OUTPUT_PATH": outputPath]
        try process.run()
        return process
    }

    /// What a flowadm started with startFlowadm has written to stdout so far.
    func standardOutput(of process: Process) -> String {
        (try? String(contentsOfFile: process.environment?["FLOWADM_OUTPUT_PATH"] ?? "", encoding: .utf8)) ?? ""
    }

    /// What a flowadm started with startFlowadm has written to stderr so far.
    func errorOutput(of process: Process) -> String {
        (try? String(contentsOfFile: (process.environment?["FLOWADM_OUTPUT_PATH"] ?? "") + ".err", encoding: .utf8)) ?? ""
    }

    /// Stops a flowadm started with startFlowadm and returns what it printed.
    func stopFlowadm(_ process: Process) throws -> String {
        let outputPath = process.environment?["FLOWADM_OUTPUT_PATH"] ?? ""
        process.terminate()
        process.waitUntilExit()
        return try String(contentsOfFile: outputPath, encoding: .utf8)
    }

    /// Writes a trigger file the way a careful user does: a dotfile, then rename into place.
    func drop(_ contents: String, workflow: String, name: String) throws {
        let directory = root + "/spool/incoming/" + workflow
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = directory + "/." + name
        try contents.write(toFile: temporary, atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(temporary, directory + "/" + name), 0)
    }

    func path(_ relative: String) -> String { root + "/" + relative }

    func exists(_ relative: String) -> Bool {
        var info = stat()
        return lstat(path(relative), &info) == 0
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes (then fails).
    func waitUntil(_ what: String, timeout: TimeInterval = 15, file: StaticString = #filePath, line: UInt = #line,
                   _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        throw WaitTimedOut(description: "timed out after \(timeout)s waiting until \(what); flowd log:\n\(log)")
    }

    /// Waits for run `id` to reach one of the final states and returns `flowadm show --json`.
    func waitForRun(_ id: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        var run: JSONValue = .null
        try waitUntil("run \(id) ends", file: file, line: line) {
            let result = flowadm("show", String(id), "--json")
            guard result.status == 0, let value = try? JSONValue.parse(result.standardOutput) else { return false }
            run = value
            return ["succeeded", "failed", "cancelled", "interrupted"].contains(value["status"]?.stringValue ?? "")
        }
        return run
    }
}
