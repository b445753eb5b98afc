// SystemdWatchdogTests.swift: WATCHDOG=1 goes out only while the health probe keeps
// answering, and stops for good once no probe can be started (the engine stopped).
// A real EventLoop runs on a thread; a datagram socket stands in for systemd's.

import Foundation
import XCTest
@testable import DaemonCore

final class SystemdWatchdogTests: XCTestCase {
    private var notifySocket: NotifySocketStandIn!

    override func setUpWithError() throws {
        notifySocket = try NotifySocketStandIn()
        setenv("NOTIFY_SOCKET", notifySocket.path, 1)
    }

    override func tearDown() {
        unsetenv("NOTIFY_SOCKET")
        notifySocket = nil
    }

    /// Runs a watchdog with `probe` every 40 ms for 300 ms; returns pings and unhealthy reports.
    private func pings(probe: @escaping SystemdWatchdog.Probe) throws -> (pings: Int, unhealthy: Int) {
        let loop = try EventLoop()
        let unhealthy = Counter()
        let watchdog = SystemdWatchdog(loop: loop, notifier: SystemdNotifier(), interval: .milliseconds(40),
                                       probe: probe, onUnhealthy: { _ in unhealthy.increment() })
        watchdog.start()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            loop.run()
            finished.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        loop.stop()
        finished.wait()
        var count = 0
        while let message = notifySocket.receive() {
            XCTAssertEqual(message, "WATCHDOG=1")
            count += 1
        }
        return (count, unhealthy.value)
    }

    func testPingsWhileTheProbeAnswers() throws {
        let result = try pings { answered in answered(); return true }
        XCTAssertGreaterThanOrEqual(result.pings, 5, "one ping per 40 ms for 300 ms")
        XCTAssertEqual(result.unhealthy, 0)
    }

    func testAProbeThatNeverAnswersWithholdsThePings() throws {
        let result = try pings { _ in true }
        XCTAssertEqual(result.pings, 1, "only the ping sent before the first probe")
        XCTAssertEqual(result.unhealthy, 1, "reported once, not at every tick")
    }

    func testNoPingsOnceNoProbeCanStart() throws {
        let result = try pings { _ in false }
        XCTAssertEqual(result.pings, 1)
        XCTAssertEqual(result.unhealthy, 0)
    }
}

/// A thread-safe counter for callbacks.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
