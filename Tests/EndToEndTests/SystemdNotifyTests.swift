// SystemdNotifyTests.swift: what systemd hears from the real flowd over NOTIFY_SOCKET
// (SPEC section 9). The test binds the datagram socket systemd would, starts flowd with
// NOTIFY_SOCKET pointing at it, and checks READY=1 comes only when flowd is really
// ready, STATUS= follows the work, SIGHUP gives RELOADING=1 + MONOTONIC_USEC then
// READY=1, WATCHDOG=1 comes at half of WATCHDOG_USEC, SIGTERM gives STOPPING=1 and
// EXTEND_TIMEOUT_USEC while a step runs, and steps never see the supervisor's variables.

import DaemonCore
import Foundation
import XCTest

final class SystemdNotifyTests: XCTestCase {
    static let hello = """
        on: { spool: { format: raw } }
        steps:
          - id: env
            run: env
        """
    static let slow = """
        on: { spool: { format: raw } }
        steps:
          - id: slow
            run: sleep 1.5; echo finished
        """
    static let quick = """
        on: { spool: { format: raw } }
        steps:
          - id: quick
            run: 'true'
        """
    static let short = """
        on: { spool: { format: raw } }
        steps:
          - id: short
            run: sleep 0.2
        """

    func testReadyComesOnlyOnceFlowdAnswersAndWaitingFilesAreClaimed() throws {
        let flowd = try FlowdHarness(workflows: ["hello.yaml": Self.hello, "slow.yaml": Self.slow])
        let notify = try NotifySocketListener()
        flowd.environment = ["NOTIFY_SOCKET": notify.path, "LISTEN_FDNAMES": "stale", "WATCHDOG_PID": nil]
        try flowd.drop("before start", workflow: "hello", name: "early")

        try flowd.start(waitForSocket: false)
        let ready = try notify.next(containing: "READY=1", timeout: 20, log: flowd.log)
        // At READY=1 the control socket answers and the waiting file is already claimed.
        XCTAssertEqual(flowd.flowadm("status").status, 0, "flowadm status answers as soon as READY=1 is sent")
        XCTAssertFalse(flowd.exists("spool/incoming/hello/early"), "the file dropped before start is claimed before READY=1")
        XCTAssertTrue(flowd.exists("spool/active/hello/1.early") || flowd.exists("spool/done/hello/1.early"))
        XCTAssertTrue(ready.contains("\nSTATUS="), "READY=1 carries the first STATUS=: \(ready)")

        // Steps never see what systemd handed to flowd.
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded")
        let environment = run["attempts"]?.arrayValue?.first?["stdout"]?.stringValue ?? ""
        XCTAssertTrue(environment.contains("FLOWD_RUN=1"), environment)
        for variable in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            XCTAssertFalse(environment.contains(variable + "="), "a step saw \(variable): \(environment)")
        }

        // SIGHUP: RELOADING=1 with the monotonic time of the reload, then READY=1.
        let pid = try XCTUnwrap(flowd.processIdentifier)
        let before = monotonicMicroseconds()
        kill(pid, SIGHUP)
        let reloading = try notify.next(containing: "RELOADING=1", timeout: 10, log: flowd.log)
        let after = monotonicMicroseconds()
        let stamp = try XCTUnwrap(reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
            .flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }, "no MONOTONIC_USEC in \(reloading)")
        XCTAssertGreaterThanOrEqual(stamp, before)
        XCTAssertLessThanOrEqual(stamp, after)
        _ = try notify.next(containing: "READY=1", timeout: 10, log: flowd.log)

        // SIGTERM while a step runs: STOPPING=1, then more time asked for the drain.
        try flowd.drop("x", workflow: "slow", name: "job")
        try flowd.waitUntil("the slow step runs") {
            (try? flowd.flowadm("show", "2", "--json").json())?["attempts"]?.arrayValue?.first?["status"] == "running"
        }
        kill(pid, SIGTERM)
        _ = try notify.next(containing: "STOPPING=1", timeout: 10, log: flowd.log)
        let extend = try notify.next(containing: "EXTEND_TIMEOUT_USEC=", timeout: 5, log: flowd.log)
        let extended = extend.split(separator: "\n").first { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
            .flatMap { UInt64($0.dropFirst("EXTEND_TIMEOUT_USEC=".count)) } ?? 0
        XCTAssertGreaterThanOrEqual(extended, 30_000_000, "at least shutdown_grace (30 s by default): \(extend)")
        XCTAssertEqual(try flowd.stop(), 0, flowd.log)
    }

    func testStatusFollowsTheWorkAtMostTwiceASecond() throws {
        let flowd = try FlowdHarness(workflows: ["slow.yaml": Self.slow, "short.yaml": Self.short],
                                     configuration: "workers: 2\n")
        let notify = try NotifySocketListener()
        flowd.environment = ["NOTIFY_SOCKET": notify.path]
        try flowd.start()
        _ = try notify.next(containing: "READY=1", timeout: 20, log: flowd.log)

        // A running step shows within the 500 ms window, long before the old 5 s timer.
        try flowd.drop("x", workflow: "slow", name: "one")
        let running = try notify.next(containing: "STATUS=1 running", timeout: 2, log: flowd.log)
        XCTAssertTrue(running.contains("1 of 2 workers busy"), running)
        _ = try notify.next(containing: "STATUS=0 running, 0 queued", timeout: 5, log: flowd.log)

        // 20 runs of 200 ms on 2 workers (about 2 s of changes every few ms) cost a
        // handful of STATUS= datagrams, at least ~500 ms apart, the last one current.
        let burstStart = notify.received.count
        for index in 0..<20 { try flowd.drop("x", workflow: "short", name: "burst-\(index)") }
        try flowd.waitUntil("the burst has run") {
            (try? flowd.flowadm("runs", "--status", "succeeded", "--limit", "100", "--json").json())?["runs"]?
                .arrayValue?.count == 21
        }
        _ = try notify.next(containing: "STATUS=0 running, 0 queued", timeout: 5, log: flowd.log)
        let statuses = notify.received[burstStart...].filter { $0.text.hasPrefix("STATUS=") }
        XCTAssertGreaterThanOrEqual(statuses.count, 3, "the counts were shown while the burst ran")
        XCTAssertLessThanOrEqual(statuses.count, 12, "\(statuses.count) STATUS= for about 2 s of work")
        for (earlier, later) in zip(statuses, statuses.dropFirst()) {
            XCTAssertGreaterThanOrEqual(later.microseconds - earlier.microseconds, 450_000,
                                        "STATUS= sent twice within 500 ms: \(earlier.text) / \(later.text)")
        }
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testWatchdogPingsAtHalfOfWatchdogUsec() throws {
        let flowd = try FlowdHarness(workflows: ["quick.yaml": Self.quick])
        let notify = try NotifySocketListener()
        flowd.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil]
        try flowd.start()
        _ = try notify.next(containing: "READY=1", timeout: 20, log: flowd.log)
        let first = notify.received.count
        notify.collect(for: 1.5)
        let pings = notify.received[first...].filter { $0.text == "WATCHDOG=1" }
        // 1.5 s at one ping per 200 ms: about 7; allow for a loaded machine.
        XCTAssertGreaterThanOrEqual(pings.count, 5, "pings: \(pings.map(\.microseconds))")
        XCTAssertLessThanOrEqual(pings.count, 9, "pings: \(pings.map(\.microseconds))")
        for (earlier, later) in zip(pings, pings.dropFirst()) {
            let gap = later.microseconds - earlier.microseconds
            XCTAssertGreaterThan(gap, 150_000, "pings too close: \(gap) µs")
            XCTAssertLessThan(gap, 400_000, "a gap of \(gap) µs would let systemd's 400 ms watchdog fire")
        }
        XCTAssertEqual(try flowd.stop(), 0)

        // WATCHDOG_PID naming another process: the watchdog is not ours, no pings.
        let other = try FlowdHarness(workflows: ["quick.yaml": Self.quick])
        let quiet = try NotifySocketListener()
        other.environment = ["NOTIFY_SOCKET": quiet.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]
        try other.start()
        _ = try quiet.next(containing: "READY=1", timeout: 20, log: other.log)
        quiet.collect(for: 0.6)
        XCTAssertFalse(quiet.received.contains { $0.text == "WATCHDOG=1" })
        XCTAssertEqual(try other.stop(), 0)
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock MONOTONIC_USEC= uses.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}

/// The datagram socket systemd listens on for sd_notify, bound in a temporary directory.
/// A thread receives every datagram and stamps it on arrival; `next(containing:)` walks
/// them in order.
final class NotifySocketListener: @unchecked Sendable {
    struct Datagram { var microseconds: UInt64; var text: String }

    let path: String
    private let directory: String
    private let descriptor: Int32
    /// Guards `storage`, `cursor` and `stopping`; signalled on each datagram.
    private let condition = NSCondition()
    private var storage: [Datagram] = []
    /// Index of the first datagram `next` has not returned or skipped yet.
    private var cursor = 0
    private var stopping = false
    private let receiverDone = DispatchSemaphore(value: 0)

    init() throws {
        directory = NSTemporaryDirectory() + "flowd-notify-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/notify.sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        Thread.detachNewThread { [self] in receiveUntilStopped() }
    }

    deinit {
        condition.lock()
        stopping = true
        condition.unlock()
        receiverDone.wait()
        close(descriptor)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every datagram so far, in order of arrival.
    var received: [Datagram] {
        condition.lock()
        defer { condition.unlock() }
        return storage
    }

    /// The next datagram (after the last one returned) that contains `text`; waits up to `timeout`.
    func next(containing text: String, timeout: TimeInterval, log: @autoclosure () -> String,
              file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            while cursor < storage.count {
                let datagram = storage[cursor]
                cursor += 1
                if datagram.text.contains(text) { return datagram.text }
            }
            if !condition.wait(until: deadline) && cursor == storage.count {
                let seen = storage.map(\.text).joined(separator: " | ")
                XCTFail("no notification containing \(text) within \(timeout) s; received: \(seen)\nflowd log:\n\(log())",
                        file: file, line: line)
                throw FlowdHarness.WaitTimedOut(description: "no \(text)")
            }
        }
    }

    /// Lets datagrams arrive for `seconds`.
    func collect(for seconds: TimeInterval) {
        Thread.sleep(forTimeInterval: seconds)
    }

    private func receiveUntilStopped() {
        defer { receiverDone.signal() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            condition.lock()
            let stop = stopping
            condition.unlock()
            if stop { return }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) == 1 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let datagram = Datagram(microseconds: monotonicMicroseconds(),
                                    text: String(decoding: buffer.prefix(count), as: UTF8.self))
            condition.lock()
            storage.append(datagram)
            condition.broadcast()
            condition.unlock()
        }
    }
}
