// SystemdStatusReporter.swift: keeps systemd's STATUS= (`systemctl status flowd`) in
// step with the engine's counts without flooding the notify socket.
//
// The engine's status board calls `changed()` after every update; the reporter sends
// the new line at once when the last STATUS= is older than `minimumInterval`, and
// otherwise once when that interval is over, so a burst of a thousand claims costs a
// handful of datagrams. An unchanged line is never re-sent. Confined to the engine
// loop's thread; a lost datagram is dropped as SystemdNotifier explains.

/// Rate-limited `STATUS=` updates, driven by change notifications (loop thread only).
final class SystemdStatusReporter: @unchecked Sendable {
    private let loop: EventLoop
    private let notifier: SystemdNotifier
    private let minimumInterval: Duration
    /// The line to show now; called on the loop thread.
    private let currentLine: () -> String
    // Loop thread only.
    private var lastSentLine: String?
    private var lastSentAt: ContinuousClock.Instant?
    private var flushScheduled = false

    /// - Parameter currentLine: builds the status text from the engine's current state.
    init(loop: EventLoop, notifier: SystemdNotifier, minimumInterval: Duration = .milliseconds(500),
         currentLine: @escaping () -> String) {
        precondition(minimumInterval > .zero, "the STATUS= interval must be positive")
        self.loop = loop
        self.notifier = notifier
        self.minimumInterval = minimumInterval
        self.currentLine = currentLine
    }

    /// Something the status line shows may have changed. Loop thread only.
    func changed() {
        guard !flushScheduled else { return }
        let now = ContinuousClock.now
        if let lastSentAt, now - lastSentAt < minimumInterval {
            flushScheduled = true
            loop.schedule(at: lastSentAt + minimumInterval) { [self] in
                flushScheduled = false
                sendIfChanged()
            }
        } else {
            sendIfChanged()
        }
    }

    /// Records `line` as already shown (it went out with READY=1 or STOPPING=1).
    func alreadySent(_ line: String) {
        lastSentLine = line
        lastSentAt = .now
    }

    private func sendIfChanged() {
        let line = currentLine()
        guard line != lastSentLine else { return }
        notifier.status(line)
        alreadySent(line)
    }

    /// The text for `systemctl status`: "2 running, 5 queued, 0 waiting (3 of 4 workers busy)",
    /// or while draining "stopping: 2 step(s) still running".
    static func statusLine(_ snapshot: EngineSnapshot) -> String {
        let line = countsLine(snapshot)
        guard !snapshot.journal.isWritable else { return line }
        return "JOURNAL NOT WRITABLE (\(snapshot.journal.error ?? "unknown error")); " + line
    }

    private static func countsLine(_ snapshot: EngineSnapshot) -> String {
        switch snapshot.phase {
        case "draining":
            return "stopping: \(snapshot.busyWorkers) step(s) still running"
        case "stopped":
            return "stopping: closing the journal"
        default:
            return "\(snapshot.running) running, \(snapshot.queued) queued, \(snapshot.waiting) waiting"
                + " (\(snapshot.busyWorkers) of \(snapshot.workers) workers busy)"
        }
    }
}
