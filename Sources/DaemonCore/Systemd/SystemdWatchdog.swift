// SystemdWatchdog.swift: WATCHDOG=1 at half of WATCHDOG_USEC, sent only while the
// dispatcher is healthy (SPEC section 9).
//
// The ping is sent from a timer on the engine loop, so a loop stuck in a handler sends
// nothing. Each ping also starts a probe that must come back before the next ping: the
// daemon's probe is answered by the journal writer between two commits (or two tries of
// a batch it retries on a full disk: degraded is alive) and then on the loop, so a
// writer thread hung in SQLite (a dead NFS mount, a stuck disk) stops the pings too and
// systemd restarts flowd. A probe that cannot be started (the engine has
// stopped and closed its journal) ends the pings: systemd no longer watches a stopping
// service. Loop thread only; nothing here throws.

/// Health-gated watchdog pings on the engine loop.
final class SystemdWatchdog: @unchecked Sendable {
    /// Starts one health probe; calls its argument (from any thread) when the probe
    /// came back. Returns false when no probe can be started any more.
    typealias Probe = (_ answered: @escaping @Sendable () -> Void) -> Bool

    private let loop: EventLoop
    private let notifier: SystemdNotifier
    private let interval: Duration
    private let probe: Probe
    /// Called once each time pings are withheld, with how long the probe has been out.
    private let onUnhealthy: (Duration) -> Void
    // Loop thread only.
    private var probeSentAt: ContinuousClock.Instant?
    private var reportedUnhealthy = false
    private var stopped = false

    init(loop: EventLoop, notifier: SystemdNotifier, interval: Duration, probe: @escaping Probe,
         onUnhealthy: @escaping (Duration) -> Void) {
        precondition(interval > .zero, "the watchdog ping interval must be positive")
        self.loop = loop
        self.notifier = notifier
        self.interval = interval
        self.probe = probe
        self.onUnhealthy = onUnhealthy
    }

    /// Pings once now and then every `interval`. Loop thread (or before the loop runs).
    func start() {
        tick()
    }

    private func tick() {
        guard !stopped else { return }
        if let probeSentAt {
            // The previous probe has not come back: withhold the ping, keep waiting.
            if !reportedUnhealthy {
                reportedUnhealthy = true
                onUnhealthy(ContinuousClock.now - probeSentAt)
            }
        } else {
            notifier.watchdogPing()
            reportedUnhealthy = false
            probeSentAt = .now
            let started = probe { [self] in
                loop.execute { [self] in probeSentAt = nil }
            }
            if !started {
                stopped = true
                return
            }
        }
        loop.schedule(after: interval) { [self] in tick() }
    }
}
