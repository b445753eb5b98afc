// SystemdNotifier.swift: tells systemd about flowd's lifecycle (Type=notify): READY,
// STATUS, RELOADING, STOPPING, EXTEND_TIMEOUT_USEC and watchdog pings (SPEC section 9).
//
// Every call is a no-op when NOTIFY_SOCKET is unset (flowd started by hand or in
// tests). A notification that cannot be delivered is dropped quietly: systemd's own
// advice, since the daemon's work must not depend on its supervisor's socket.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// sd_notify wrapper. All calls are no-ops (returning quietly) when NOTIFY_SOCKET is unset.
public final class SystemdNotifier: Sendable {
    /// Environment variables through which systemd talks to *this* process; a child
    /// that inherited them could notify or be mistaken for flowd.
    static let supervisorVariables: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    ]

    public init() {}

    /// Sends `READY=1`, plus `STATUS=` when `status` is given: startup or a reload is done.
    public func ready(status: String? = nil) {
        send(["READY=1"] + statusLine(status))
    }

    /// Sends `STATUS=<text>`, shown by `systemctl status flowd`.
    public func status(_ text: String) {
        send(statusLine(text))
    }

    /// Sends `RELOADING=1` with `MONOTONIC_USEC=` (the CLOCK_MONOTONIC time in
    /// microseconds), as `Type=notify-reload` expects. Follow with `ready()`.
    public func reloading() {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"])
    }

    /// Sends `STOPPING=1`, plus `STATUS=` when `status` is given: shutdown has begun.
    public func stopping(status: String? = nil) {
        send(["STOPPING=1"] + statusLine(status))
    }

    /// Sends `EXTEND_TIMEOUT_USEC=<duration in µs>`: asks systemd to wait that much
    /// longer (from now) for the current start or stop to finish. Negative durations count as 0.
    public func extendTimeout(_ duration: Duration) {
        send(["EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))"])
    }

    /// Sends `WATCHDOG=1`. Call it every `watchdogPingInterval`, only while healthy.
    public func watchdogPing() {
        send(["WATCHDOG=1"])
    }

    /// Half of WATCHDOG_USEC when the watchdog is enabled for this pid (sd_watchdog_enabled), else nil.
    public var watchdogPingInterval: Duration? {
        guard let microseconds = LibSystemd.watchdogMicroseconds() else { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// Removes NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES from a child environment dictionary.
    public static func scrubbedEnvironment(_ environment: [String: String]) -> [String: String] {
        environment.filter { !supervisorVariables.contains($0.key) }
    }

    // MARK: - Internals

    /// Sends one notification made of `lines`; failures are dropped (see file header).
    private func send(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        _ = LibSystemd.notify(lines.joined(separator: "\n"))
    }

    /// `STATUS=` with newlines flattened: a newline would start a new assignment.
    private func statusLine(_ text: String?) -> [String] {
        guard let text else { return [] }
        let flattened = text.map { $0.isNewline ? " " : String($0) }.joined()
        return ["STATUS=\(flattened)"]
    }

    /// Whole microseconds in `duration`, 0 for negative durations.
    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        if overflow { return UInt64.max }
        return whole &+ UInt64(attoseconds / 1_000_000_000_000)
    }

    /// CLOCK_MONOTONIC in microseconds. The clock always exists on Linux, so a
    /// failure here is a bug and traps.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        do {
            try systemCall("clock_gettime", "CLOCK_MONOTONIC") { clock_gettime(CLOCK_MONOTONIC, &now) }
        } catch {
            preconditionFailure("clock_gettime(CLOCK_MONOTONIC) failed: \(error)")
        }
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
