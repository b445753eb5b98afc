// LogLevel.swift: the syslog priorities flowd logs at, and the fixed journald
// MESSAGE_IDs, one per kind of event (SPEC section 6), so that
// `journalctl MESSAGE_ID=<id>` finds every run start, every rejection, and so on.
//
// Pure values; nothing here fails. An unknown level name yields nil so that the
// config loader can report it with file:line:column.

/// Syslog priorities. Ordered by severity: `.debug < .info < ... < .critical`, so
/// an entry is kept when `level >= minimumLevel`.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case critical = 2, error = 3, warning = 4, notice = 5, info = 6, debug = 7

    /// The level named in flowd.yaml's `log_level`: "debug", "info", "notice",
    /// "warning", "error" or "critical". Nil for anything else.
    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }

    /// The lowercase name used in flowd.yaml and in stderr lines.
    public var name: String {
        switch self {
        case .critical: return "critical"
        case .error: return "error"
        case .warning: return "warning"
        case .notice: return "notice"
        case .info: return "info"
        case .debug: return "debug"
        }
    }

    /// More severe compares greater (a lower syslog number).
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        lhs.rawValue > rhs.rawValue
    }
}

/// One fixed journald MESSAGE_ID per event kind. The values never change: admins'
/// `journalctl MESSAGE_ID=` filters and the catalog (packaging/flowd.catalog, checked
/// against this list by PackagingTests) depend on them. Add, never reuse.
public enum MessageID: String, Sendable, CaseIterable {
    case daemonStarted, daemonStopping, daemonStopped, daemonReloaded, runStarted, runFinished
    case stepAttemptFinished, spoolRejected, definitionLoaded, definitionError, adminAction

    /// The 128-bit id as 32 lowercase hex digits (journald's MESSAGE_ID format).
    public var id128: String {
        switch self {
        case .daemonStarted: return "3747928e4a61478f8055fe23b3dd86c5"
        case .daemonStopping: return "f1cf2cb1e96846d1bce10b93265ade6a"
        case .daemonStopped: return "525204a39553467db313d47a079893fa"
        case .daemonReloaded: return "18172d5859b549da88601a8495fe4124"
        case .runStarted: return "37a90c0a6e664f56867a2778cf657298"
        case .runFinished: return "508d05b3d96040d5ad4d1329715f8568"
        case .stepAttemptFinished: return "3a98b9e31b174977ab73bcd7ca0ff4d1"
        case .spoolRejected: return "a0a8b2cd44c74688bcbce34d55ae3165"
        case .definitionLoaded: return "247a8ed9cdbf4a4480a1e2fd43a4b2e0"
        case .definitionError: return "b37fe64f1b6b4795a1891470b1bcd62c"
        case .adminAction: return "f7724275cd7c4f5ba501704d68a5d253"
        }
    }
}
