// DaemonConfiguration.swift: flowd.yaml, every key optional, unknown keys an error.
//
// A missing file means all defaults. A file with errors stops the daemon at start
// (every error reported as file:line:column) and is ignored on reload, where the
// running configuration stays in force.

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's settings, with the defaults of SPEC section 1.
public struct DaemonConfiguration: Sendable {
    public enum JournalSynchronous: String, Sendable { case normal, full }

    public var workers: Int = DaemonConfiguration.processorCount
    public var maxQueuedRuns: Int = 10_000
    public var shutdownGrace: Duration = .seconds(30)
    public var journalSynchronous: JournalSynchronous = .normal
    public var retentionMaxAge: Duration = .seconds(30 * 86_400)
    public var retentionMaxRunsPerWorkflow: Int = 10_000
    /// How often the retention pass runs (the first one runs shortly after start).
    public var retentionInterval: Duration = .seconds(60)
    public var spoolMaxFileSize: Int = 1024 * 1024
    public var spoolRescanInterval: Duration = .seconds(60)
    public var outputLimit: Int = 64 * 1024
    public var adminGroup: String = "flowadm"
    public var readGroup: String?
    public var logLevel: LogLevel = .info
    public var credentialsDirectory: String?

    public init() {}

    static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    static let topKeys = ["workers", "max_queued_runs", "shutdown_grace", "journal", "retention", "spool",
                          "limits", "admin_group", "read_group", "log_level", "credentials_dir"]

    /// Loads `path`; a file that does not exist yields the defaults.
    public static func load(path: String) throws(DefinitionErrors) -> DaemonConfiguration {
        var status = stat()
        if lstat(path, &status) != 0 && errno == ENOENT { return DaemonConfiguration() }
        let root: YAMLNode?
        do {
            root = try YAMLParser.parseFile(atPath: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        guard let root else { return DaemonConfiguration() }
        let reader = NodeReader()
        let configuration = read(root, reader: reader)
        guard reader.errors.isEmpty else { throw DefinitionErrors(reader.errors) }
        return configuration
    }

    private static func read(_ root: YAMLNode, reader: NodeReader) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        guard let members = reader.mapping(root, what: "flowd.yaml", allowed: topKeys) else { return configuration }
        if let node = members["workers"] { configuration.workers = reader.integer(node, what: "workers", range: 1...1024) ?? configuration.workers }
        if let node = members["max_queued_runs"] {
            configuration.maxQueuedRuns = reader.integer(node, what: "max_queued_runs", range: 1...10_000_000) ?? configuration.maxQueuedRuns
        }
        if let node = members["shutdown_grace"] { configuration.shutdownGrace = reader.duration(node, what: "shutdown_grace") ?? configuration.shutdownGrace }
        if let node = members["admin_group"] { configuration.adminGroup = reader.string(node, what: "admin_group") ?? configuration.adminGroup }
        if let node = members["read_group"] { configuration.readGroup = reader.string(node, what: "read_group") }
        if let node = members["credentials_dir"] { configuration.credentialsDirectory = reader.string(node, what: "credentials_dir") }
        if let node = members["log_level"], let text = reader.string(node, what: "log_level") {
            if let level = LogLevel(name: text) {
                configuration.logLevel = level
            } else {
                reader.report(node, "log_level must be one of debug, info, notice, warning, error, critical; found \"\(text)\"")
            }
        }
        if let node = members["journal"], let journal = reader.mapping(node, what: "journal", allowed: ["synchronous"]),
           let synchronousNode = journal["synchronous"], let text = reader.string(synchronousNode, what: "journal.synchronous") {
            if let mode = JournalSynchronous(rawValue: text) {
                configuration.journalSynchronous = mode
            } else {
                reader.report(synchronousNode, "journal.synchronous must be normal or full; found \"\(text)\"")
            }
        }
        if let node = members["retention"], let retention = reader.mapping(node, what: "retention", allowed: ["max_age", "max_runs_per_workflow", "interval"]) {
            if let age = retention["max_age"] { configuration.retentionMaxAge = reader.duration(age, what: "retention.max_age") ?? configuration.retentionMaxAge }
            if let count = retention["max_runs_per_workflow"] {
                configuration.retentionMaxRunsPerWorkflow = reader.integer(count, what: "retention.max_runs_per_workflow", range: 1...100_000_000)
                    ?? configuration.retentionMaxRunsPerWorkflow
            }
            if let node = retention["interval"], let interval = reader.duration(node, what: "retention.interval") {
                if interval >= .milliseconds(100) {
                    configuration.retentionInterval = interval
                } else {
                    reader.report(node, "retention.interval must be at least 100ms")
                }
            }
        }
        if let node = members["spool"], let spool = reader.mapping(node, what: "spool", allowed: ["max_file_size", "rescan_interval"]) {
            if let size = spool["max_file_size"] { configuration.spoolMaxFileSize = reader.size(size, what: "spool.max_file_size") ?? configuration.spoolMaxFileSize }
            if let interval = spool["rescan_interval"] {
                configuration.spoolRescanInterval = reader.duration(interval, what: "spool.rescan_interval") ?? configuration.spoolRescanInterval
            }
        }
        if let node = members["limits"], let limits = reader.mapping(node, what: "limits", allowed: ["output_bytes"]),
           let output = limits["output_bytes"] {
            configuration.outputLimit = reader.size(output, what: "limits.output_bytes") ?? configuration.outputLimit
        }
        return configuration
    }
}

/// Where flowd keeps everything on a host, or under `--root DIR`.
public struct DaemonPaths: Sendable {
    public var configurationDirectory: String
    public var spoolDirectory: String
    public var stateDirectory: String
    public var runtimeDirectory: String

    public var configurationFile: String { configurationDirectory + "/flowd.yaml" }
    public var workflowsDirectory: String { configurationDirectory + "/workflows" }
    public var connectorsDirectory: String { configurationDirectory + "/connectors" }
    public var journalPath: String { stateDirectory + "/journal.sqlite" }
    public var controlSocketPath: String { runtimeDirectory + "/control.sock" }

    /// The system layout of SPEC section 1.
    public static let system = DaemonPaths(
        configurationDirectory: "/etc/flowd", spoolDirectory: "/var/spool/flowd",
        stateDirectory: "/var/lib/flowd", runtimeDirectory: "/run/flowd")

    /// Everything under `root`: DIR/etc/flowd, DIR/spool, DIR/state, DIR/run.
    public static func root(_ root: String) -> DaemonPaths {
        let base = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        return DaemonPaths(
            configurationDirectory: base + "/etc/flowd", spoolDirectory: base + "/spool",
            stateDirectory: base + "/state", runtimeDirectory: base + "/run")
    }
}
