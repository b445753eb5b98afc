// ProcessRunnerTests.swift: runs real children (/bin/sh, cat, env, head) through
// ProcessRunner and checks what a step author would notice: exit codes, captured
// output, stdin, environment, descriptors, process group, timeouts, cancellation.

import Foundation
import XCTest

@testable import DaemonCore

final class ProcessRunnerTests: XCTestCase {
    private func shell(_ script: String, configure: (inout ProcessSpec) -> Void = { _ in }) throws -> ProcessOutcome {
        var spec = ProcessSpec(executable: "/bin/sh", arguments: ["-c", script], environment: ["PATH": "/usr/bin:/bin"])
        configure(&spec)
        return try ProcessRunner.run(spec)
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: exit status and output

    func testExitCodesAreReported() throws {
        for code: Int32 in [0, 1, 42] {
            let outcome = try shell("exit \(code)")
            XCTAssertEqual(outcome.termination, .exited(code))
            XCTAssertEqual(outcome.exitCode, code)
            XCTAssertFalse(outcome.timedOut)
            XCTAssertFalse(outcome.cancelled)
            XCTAssertGreaterThan(outcome.pid, 0)
            XCTAssertGreaterThanOrEqual(outcome.endedAt, outcome.startedAt)
        }
    }

    func testKillingSignalIsReported() throws {
        let outcome = try shell("kill -USR1 $$")
        XCTAssertEqual(outcome.termination, .signaled(SIGUSR1))
        XCTAssertNil(outcome.exitCode)
    }

    func testStandardOutputAndErrorAreCapturedSeparately() throws {
        let outcome = try shell("echo to-out; echo to-err >&2; echo more-out")
        XCTAssertEqual(text(outcome.standardOutput), "to-out\nmore-out\n")
        XCTAssertEqual(text(outcome.standardError), "to-err\n")
        XCTAssertEqual(outcome.standardOutputBytes, 16)
        XCTAssertEqual(outcome.standardErrorBytes, 7)
    }

    func testOutputOverTheLimitKeepsTheTailAndCountsEverything() throws {
        var spec = ProcessSpec(executable: "/usr/bin/head", arguments: ["-c", "10000000", "/dev/zero"])
        spec.outputLimit = 1000
        let outcome = try ProcessRunner.run(spec)
        XCTAssertEqual(outcome.exitCode, 0)
        XCTAssertEqual(outcome.standardOutput, [UInt8](repeating: 0, count: 1000))
        XCTAssertEqual(outcome.standardOutputBytes, 10_000_000)

        let numbers = try shell("seq 1 200000") { $0.outputLimit = 1000 }
        let expected = (1...200_000).map { "\($0)\n" }.joined()
        XCTAssertEqual(text(numbers.standardOutput), String(expected.utf8.suffix(1000))!)
        XCTAssertEqual(numbers.standardOutputBytes, expected.utf8.count)
    }

    func testHugeOutputUsesBoundedMemory() throws {
        let before = maximumResidentKilobytes()
        let outcome = try ProcessRunner.run(
            ProcessSpec(executable: "/usr/bin/head", arguments: ["-c", "268435456", "/dev/zero"]))
        XCTAssertEqual(outcome.standardOutputBytes, 268_435_456)
        XCTAssertEqual(outcome.standardOutput.count, 64 * 1024)
        XCTAssertLessThan(maximumResidentKilobytes() - before, 32 * 1024, "reading 256 MiB grew the heap")
    }

    // MARK: what the child gets

    func testStandardInputIsFedWithoutDeadlock() throws {
        let input = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        var spec = ProcessSpec(executable: "/bin/cat")
        spec.standardInput = input
        spec.outputLimit = 2 << 20
        spec.timeout = .seconds(20)
        let outcome = try ProcessRunner.run(spec)
        XCTAssertEqual(outcome.exitCode, 0)
        XCTAssertFalse(outcome.timedOut)
        XCTAssertEqual(outcome.standardOutput, input)
    }

    func testChildThatDoesNotReadItsInputStillEnds() throws {
        // SIGPIPE is not ignored in the test process: a write to the closed pipe must not kill it.
        let outcome = try shell("exit 3") { $0.standardInput = [UInt8](repeating: 65, count: 1 << 20) }
        XCTAssertEqual(outcome.exitCode, 3)
    }

    func testWithoutInputTheChildReadsEndOfFile() throws {
        XCTAssertEqual(text(try shell("wc -c").standardOutput).trimmingCharacters(in: .whitespacesAndNewlines), "0")
        XCTAssertEqual(text(try shell("wc -c") { $0.standardInput = [] }.standardOutput)
            .trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    func testEnvironmentIsExactlyWhatWasGiven() throws {
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        let outcome = try ProcessRunner.run(
            ProcessSpec(executable: "/usr/bin/env", environment: ["FLOWD_STEP": "build", "GREETING": "a b=c"]))
        let lines = text(outcome.standardOutput).split(separator: "\n").map(String.init).sorted()
        XCTAssertEqual(lines, ["FLOWD_STEP=build", "GREETING=a b=c"])
    }

    func testChildInheritsOnlyStandardDescriptors() throws {
        let leaked = open("/dev/null", O_RDONLY)  // deliberately not close-on-exec
        XCTAssertGreaterThan(leaked, 2)
        defer { close(leaked) }
        let outcome = try shell("ls -1 /proc/$$/fd")
        XCTAssertEqual(text(outcome.standardOutput), "0\n1\n2\n")
    }

    func testWorkingDirectoryIsUsed() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowd-process-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var spec = ProcessSpec(executable: "/bin/pwd")
        spec.workingDirectory = directory
        let outcome = try ProcessRunner.run(spec)
        XCTAssertEqual(text(outcome.standardOutput), directory + "\n")
    }

    func testChildHasItsOwnProcessGroupAndCleanSignalState() throws {
        var blockTerm = sigset_t()
        var previousMask = sigset_t()
        sigemptyset(&blockTerm)
        sigaddset(&blockTerm, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blockTerm, &previousMask)
        let previousPipe = signal(SIGPIPE, SIG_IGN)
        defer {
            signal(SIGPIPE, previousPipe)
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        }
        let stat = try ProcessRunner.run(ProcessSpec(executable: "/bin/cat", arguments: ["/proc/self/stat"]))
        let afterName = text(stat.standardOutput).split(separator: ")").last!.split(separator: " ")
        XCTAssertEqual(Int32(afterName[2]), stat.pid, "process group id is the child's pid")
        XCTAssertNotEqual(getpgrp(), stat.pid)

        let status = try ProcessRunner.run(ProcessSpec(executable: "/bin/cat", arguments: ["/proc/self/status"]))
        let lines = text(status.standardOutput).split(separator: "\n")
        XCTAssertTrue(lines.contains("SigBlk:\t0000000000000000"), "signal mask is empty")
        // glibc's posix_spawn leaves its two internal signals (32 and 33, below SIGRTMIN,
        // unusable by programs) ignored; every signal a program can use is at default.
        let ignored = lines.first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst(8), radix: 16) }
        XCTAssertEqual(ignored.map { $0 & ~UInt64(0x1_8000_0000) }, 0, "no usable signal is ignored")
    }

    // MARK: stopping

    func testExitedChildDoesNotWaitForGrandchildHoldingThePipe() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try shell("sleep 1000 & echo $!; echo hi")
        XCTAssertLessThan(clock.now - start, .seconds(3))
        XCTAssertEqual(outcome.exitCode, 0)
        let lines = text(outcome.standardOutput).split(separator: "\n")
        XCTAssertEqual(lines.last, "hi")
        XCTAssertTrue(processEnds(Int32(lines.first!)!), "the background sleep was killed")
    }

    func testTimeoutStopsTheWholeGroup() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try shell("sleep 1000 & echo $!; wait") { $0.timeout = .milliseconds(500) }
        let elapsed = clock.now - start
        XCTAssertTrue(outcome.timedOut)
        XCTAssertFalse(outcome.cancelled)
        XCTAssertEqual(outcome.termination, .signaled(SIGTERM))
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(500))
        XCTAssertLessThan(elapsed, .milliseconds(2500))
        let grandchild = Int32(text(outcome.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines))!
        XCTAssertTrue(processEnds(grandchild), "the grandchild sleep was killed")
    }

    func testChildIgnoringTermIsKilledAfterTheGrace() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try shell("trap '' TERM; sleep 1000") {
            $0.timeout = .milliseconds(300)
            $0.killGrace = .milliseconds(300)
        }
        let elapsed = clock.now - start
        XCTAssertTrue(outcome.timedOut)
        XCTAssertEqual(outcome.termination, .signaled(SIGKILL))
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(600))
        XCTAssertLessThan(elapsed, .milliseconds(2500))
    }

    func testCancellationFromAnotherThreadStopsTheChild() throws {
        let cancellation = ProcessCancellation()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) { cancellation.cancel() }
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try ProcessRunner.run(
            ProcessSpec(executable: "/bin/sh", arguments: ["-c", "sleep 1000 & wait"]), cancellation: cancellation)
        XCTAssertTrue(outcome.cancelled)
        XCTAssertFalse(outcome.timedOut)
        XCTAssertTrue(cancellation.isCancelled)
        XCTAssertEqual(outcome.termination, .signaled(SIGTERM))
        XCTAssertLessThan(clock.now - start, .seconds(3))
    }

    func testCancellationBeforeTheRunSpawnsNothing() throws {
        let cancellation = ProcessCancellation()
        cancellation.cancel()
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("flowd-\(UUID().uuidString)").path
        let outcome = try ProcessRunner.run(
            ProcessSpec(executable: "/usr/bin/touch", arguments: [marker]), cancellation: cancellation)
        XCTAssertTrue(outcome.cancelled)
        XCTAssertEqual(outcome.pid, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    // MARK: failures and resources

    func testMissingExecutableThrowsENOENTNamingThePath() {
        XCTAssertThrowsError(try ProcessRunner.run(ProcessSpec(executable: "/nonexistent/flowd-step"))) { error in
            let systemError = error as? SystemError
            XCTAssertEqual(systemError?.errno, ENOENT)
            XCTAssertEqual(systemError?.subject, "/nonexistent/flowd-step")
        }
    }

    func testMissingWorkingDirectoryThrowsNamingTheDirectory() {
        var spec = ProcessSpec(executable: "/bin/true")
        spec.workingDirectory = "/nonexistent/flowd-directory"
        XCTAssertThrowsError(try ProcessRunner.run(spec)) { error in
            XCTAssertEqual(error as? SystemError, SystemError(call: "chdir", subject: "/nonexistent/flowd-directory", errno: ENOENT))
        }
    }

    func testNoDescriptorLeaksOverManyRuns() throws {
        let before = try openDescriptorCount()
        for index in 0..<200 {
            var spec = ProcessSpec(executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2"])
            if index % 2 == 0 { spec.standardInput = Array("input".utf8) }
            let cancellation = index % 3 == 0 ? ProcessCancellation() : nil
            let outcome = try ProcessRunner.run(spec, cancellation: cancellation)
            XCTAssertEqual(outcome.exitCode, 0)
            _ = try? ProcessRunner.run(ProcessSpec(executable: "/nonexistent/flowd-step"))
        }
        XCTAssertEqual(try openDescriptorCount(), before)
    }

    // MARK: helpers

    private func openDescriptorCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    private func maximumResidentKilobytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    /// Whether `pid` is gone (or a zombie nobody reaps) within two seconds.
    private func processEnds(_ pid: Int32) -> Bool {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            if stat.split(separator: ")").last?.split(separator: " ").first == "Z" { return true }
            usleep(20_000)
        }
        return false
    }
}
