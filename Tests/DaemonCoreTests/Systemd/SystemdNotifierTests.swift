// SystemdNotifierTests.swift: what systemd would receive from flowd over NOTIFY_SOCKET,
// the watchdog interval, the scrubbed child environment and socket activation.
// A real AF_UNIX datagram socket stands in for systemd's notify socket.

import Foundation
import XCTest
@testable import DaemonCore

final class SystemdNotifierTests: XCTestCase {
    private var notifySocket: NotifySocketStandIn!

    override func setUpWithError() throws {
        notifySocket = try NotifySocketStandIn()
        setenv("NOTIFY_SOCKET", notifySocket.path, 1)
    }

    override func tearDown() {
        unsetenv("NOTIFY_SOCKET")
        unsetenv("WATCHDOG_USEC")
        unsetenv("WATCHDOG_PID")
        notifySocket = nil
    }

    func testLifecycleMessagesReachSystemdVerbatim() throws {
        let notifier = SystemdNotifier()
        notifier.ready()
        XCTAssertEqual(notifySocket.receive(), "READY=1")
        notifier.ready(status: "running 0, queued 0, waiting 0")
        XCTAssertEqual(notifySocket.receive(), "READY=1\nSTATUS=running 0, queued 0, waiting 0")
        notifier.status("running 3, queued 12, waiting 1")
        XCTAssertEqual(notifySocket.receive(), "STATUS=running 3, queued 12, waiting 1")
        notifier.stopping()
        XCTAssertEqual(notifySocket.receive(), "STOPPING=1")
        notifier.stopping(status: "draining 2 runs")
        XCTAssertEqual(notifySocket.receive(), "STOPPING=1\nSTATUS=draining 2 runs")
        notifier.extendTimeout(.seconds(30))
        XCTAssertEqual(notifySocket.receive(), "EXTEND_TIMEOUT_USEC=30000000")
        notifier.extendTimeout(.milliseconds(1500))
        XCTAssertEqual(notifySocket.receive(), "EXTEND_TIMEOUT_USEC=1500000")
        notifier.watchdogPing()
        XCTAssertEqual(notifySocket.receive(), "WATCHDOG=1")
        XCTAssertNil(notifySocket.receive(), "one datagram per call")
    }

    func testStatusCannotInjectAnotherAssignment() {
        SystemdNotifier().status("line one\nREADY=1")
        XCTAssertEqual(notifySocket.receive(), "STATUS=line one READY=1")
    }

    func testReloadingCarriesTheCurrentMonotonicTime() throws {
        let before = monotonicMicroseconds()
        SystemdNotifier().reloading()
        let after = monotonicMicroseconds()
        let message = try XCTUnwrap(notifySocket.receive())
        let lines = message.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, message)
        XCTAssertEqual(lines.first, "RELOADING=1")
        let prefix = "MONOTONIC_USEC="
        XCTAssertTrue(lines.last?.hasPrefix(prefix) ?? false, message)
        let stamp = try XCTUnwrap(UInt64(lines.last?.dropFirst(prefix.count) ?? ""), message)
        XCTAssertGreaterThanOrEqual(stamp, before)
        XCTAssertLessThanOrEqual(stamp, after)
    }

    func testNothingIsSentAndNothingFailsWithoutNotifySocket() {
        unsetenv("NOTIFY_SOCKET")
        let notifier = SystemdNotifier()
        notifier.ready(status: "x")
        notifier.reloading()
        notifier.watchdogPing()
        XCTAssertNil(notifySocket.receive())
    }

    func testWatchdogIntervalIsHalfOfWatchdogUsecForThisProcess() {
        let notifier = SystemdNotifier()
        XCTAssertNil(notifier.watchdogPingInterval, "no WATCHDOG_USEC: no watchdog")
        setenv("WATCHDOG_USEC", "2000000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        XCTAssertEqual(notifier.watchdogPingInterval, .seconds(1))
        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        XCTAssertNil(notifier.watchdogPingInterval, "watchdog meant for another process")
        unsetenv("WATCHDOG_PID")
        XCTAssertEqual(notifier.watchdogPingInterval, .seconds(1), "no WATCHDOG_PID: meant for us")
        unsetenv("WATCHDOG_USEC")
        XCTAssertNil(notifier.watchdogPingInterval)
    }

    func testScrubbedEnvironmentRemovesExactlySystemdsVariables() {
        let environment = [
            "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "1",
            "LISTEN_FDS": "1", "LISTEN_PID": "1", "LISTEN_FDNAMES": "control",
            "PATH": "/usr/bin", "HOME": "/var/lib/flowd", "LISTEN": "kept", "NOTIFY_SOCKET_X": "kept",
            "INVOCATION_ID": "kept", "JOURNAL_STREAM": "8:1",
        ]
        XCTAssertEqual(SystemdNotifier.scrubbedEnvironment(environment), [
            "PATH": "/usr/bin", "HOME": "/var/lib/flowd", "LISTEN": "kept", "NOTIFY_SOCKET_X": "kept",
            "INVOCATION_ID": "kept", "JOURNAL_STREAM": "8:1",
        ])
    }

    private func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}

/// An AF_UNIX datagram socket bound at a fresh path under /tmp, standing in for
/// systemd's notify socket. Closed and unlinked on deinit.
final class NotifySocketStandIn {
    let descriptor: Int32
    let path: String

    init() throws {
        path = "/tmp/flowd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", errno: errno) }
        try bindTestUnixSocket(descriptor, path: path)
    }

    /// The next queued datagram, or nil when none is waiting (never blocks: sd_notify
    /// has already delivered by the time it returns).
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    deinit {
        close(descriptor)
        unlink(path)
    }
}

/// Binds `descriptor` to the AF_UNIX address `path`.
func bindTestUnixSocket(_ descriptor: Int32, path: String) throws {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard result == 0 else { throw SystemError(call: "bind", subject: path, errno: errno) }
}
