// ProcessSpec.swift: what to run for one step attempt (ProcessSpec) and what came of
// it (ProcessOutcome). Plain values; ProcessRunner does the work. Nothing here fails.

/// Everything ProcessRunner needs to start one child process.
public struct ProcessSpec: Sendable {
    /// Absolute path of the program, e.g. "/bin/sh". No PATH search is done.
    public var executable: String
    /// argv[1...]; argv[0] is `executable`.
    public var arguments: [String]
    /// The complete environment of the child: nothing is inherited from the daemon.
    public var environment: [String: String]
    /// Directory the child starts in; nil keeps the daemon's.
    public var workingDirectory: String?
    /// Bytes fed to the child's stdin, which is then closed; nil gives it /dev/null.
    public var standardInput: [UInt8]?
    /// Limit of one attempt, counted from the spawn; nil means none.
    public var timeout: Duration?
    /// Delay between SIGTERM and SIGKILL when the process group is stopped.
    public var killGrace: Duration = .seconds(5)
    /// Bytes kept of stdout and, separately, of stderr: the last ones written.
    public var outputLimit: Int = 64 * 1024

    public init(executable: String, arguments: [String] = [], environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }
}

/// How a child process ended and what it wrote.
public struct ProcessOutcome: Sendable {
    /// The wait status of the child, decoded.
    public enum Termination: Sendable, Equatable {
        /// The child called exit with this status.
        case exited(Int32)
        /// The child was killed by this signal.
        case signaled(Int32)
    }

    /// The child's pid, which was also its process group id. 0 when the run was
    /// cancelled before anything was spawned.
    public var pid: Int32
    public var termination: Termination
    /// The attempt's timeout expired and the process group was stopped.
    public var timedOut: Bool
    /// The ProcessCancellation fired (before or during the run).
    public var cancelled: Bool
    /// The last `outputLimit` bytes the child wrote to stdout.
    public var standardOutput: [UInt8]
    /// The last `outputLimit` bytes the child wrote to stderr.
    public var standardError: [UInt8]
    /// Total bytes read from the child's stdout, kept or not.
    public var standardOutputBytes: Int
    /// Total bytes read from the child's stderr, kept or not.
    public var standardErrorBytes: Int
    public var startedAt: ContinuousClock.Instant
    public var endedAt: ContinuousClock.Instant

    /// The exit status when the child exited, nil when a signal killed it.
    public var exitCode: Int32? {
        if case .exited(let code) = termination { return code }
        return nil
    }
}
