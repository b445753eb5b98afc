// Daemon.swift: the manager that builds every part of flowd and runs the event loop.
//
// Order of start (SPEC section 9): configuration → state lock → control socket bound
// (or taken from socket activation) → journal opened and migrated → definitions
// loaded, spool prepared and rescanned (waiting files claimed) → control socket served
// → READY=1. Any failure before READY=1 is thrown to main, which exits 1 (systemd sees
// the start fail). Signals are blocked in every thread and read through a signalfd on
// the loop: SIGTERM/SIGINT drain and stop, SIGHUP reloads. STATUS= follows the engine's
// status board at most every 500 ms; WATCHDOG=1 comes from the loop while it and the
// journal writer answer. A second flowd on the same state directory is refused through
// a lock file, so one journal has one writer.

#if canImport(Glibc)
import Glibc
#endif
import CFlowdShim

/// Why the daemon could not start or run; main maps it to an exit status.
public struct DaemonStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A slot filled after the closures that read it were made (loop thread only).
private final class Box<Value>: @unchecked Sendable {
    var value: Value?
}

/// The flowd daemon.
public final class Daemon {
    let paths: DaemonPaths
    let createLayout: Bool

    /// - Parameter createLayout: create missing directories (always true under --root).
    public init(paths: DaemonPaths, createLayout: Bool) {
        self.paths = paths
        self.createLayout = createLayout
    }

    /// Runs until SIGTERM/SIGINT has drained the engine.
    public func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let signalDescriptor = try Self.blockedSignalsDescriptor([SIGTERM, SIGINT, SIGHUP])
        defer { close(signalDescriptor) }

        let configuration: DaemonConfiguration
        do {
            configuration = try DaemonConfiguration.load(path: paths.configurationFile)
        } catch {
            throw DaemonStartError("invalid configuration:\n\(error)")
        }
        let logger = DaemonLogger(identifier: "flowd", minimumLevel: configuration.logLevel)
        if createLayout {
            for directory in [paths.workflowsDirectory, paths.connectorsDirectory, paths.stateDirectory, paths.runtimeDirectory] {
                try FileSystem.makeDirectories(directory, mode: 0o755)
            }
            try FileSystem.makeDirectories(paths.spoolDirectory + "/incoming", mode: 0o755)
        }
        try Self.requireWritableDirectory(paths.stateDirectory)
        let lockDescriptor = try Self.lockStateDirectory(paths.stateDirectory)
        defer { close(lockDescriptor) }
        // Bound before any thread starts: binding briefly narrows the process umask.
        // Clients that connect early wait in the backlog until the server runs.
        let (listener, boundPath) = try openControlSocket(adminGroup: configuration.adminGroup)
        defer { if let boundPath { unlink(boundPath) } }

        // 1. The journal, opened and migrated.
        let journal: RunJournal
        do {
            journal = try RunJournal(path: paths.journalPath, synchronous: configuration.journalSynchronous)
        } catch {
            throw DaemonStartError("cannot open the journal \(paths.journalPath): \(error)")
        }
        journal.start()

        let loop = try EventLoop()
        let notifier = SystemdNotifier()
        let events = EventHub()
        let statusReporter = Box<SystemdStatusReporter>()
        let statusBoard = EngineStatusBoard(onUpdate: {
            loop.execute { statusReporter.value?.changed() }
        })
        let engine = Engine(loop: loop, configuration: configuration, paths: paths, journal: journal,
                            logger: logger, statusBoard: statusBoard, notifier: notifier, events: events)
        engine.onStopped = { loop.stop() }
        // 2. Definitions loaded, the spool prepared and rescanned (files already waiting
        // are claimed into active/ here, synchronously).
        try engine.start()

        // 3. The control socket served.
        let server = VarlinkServer(
            listeningDescriptor: listener,
            info: VarlinkServiceInfo(vendor: "flowd", product: "flowd", version: FlowdVersion.current,
                                     url: "https://github.com/flowd/flowd"),
            handlers: [try ControlService(ControlDependencies(
                journalPath: paths.journalPath, statusBoard: statusBoard, events: events, engine: engine, journal: journal,
                logger: logger, paths: paths,
                authorizer: ControlAuthorizer(adminGroup: configuration.adminGroup, readGroup: configuration.readGroup)))])
        try server.start()
        defer { server.stop() }

        try loop.register(signalDescriptor) { _ in
            for signalNumber in Self.readSignals(signalDescriptor) {
                if signalNumber == SIGHUP { engine.reload() } else { engine.beginShutdown() }
            }
        }
        if let interval = notifier.watchdogPingInterval {
            startWatchdog(loop: loop, notifier: notifier, interval: interval, engine: engine, journal: journal, logger: logger)
        }
        // 4. Only now READY=1, with the first STATUS=.
        let reporter = SystemdStatusReporter(loop: loop, notifier: notifier) {
            SystemdStatusReporter.statusLine(statusBoard.current)
        }
        statusReporter.value = reporter
        let firstStatus = SystemdStatusReporter.statusLine(statusBoard.current)
        notifier.ready(status: firstStatus)
        reporter.alreadySent(firstStatus)
        logger.log(.notice, "flowd \(FlowdVersion.current) ready: \(statusBoard.current.workflows.count) workflow(s), "
                   + "\(configuration.workers) worker(s), control socket \(paths.controlSocketPath)"
                   + (boundPath == nil ? " (socket-activated)" : ""), id: .daemonStarted)
        loop.run()
        logger.log(.notice, "flowd stopped", id: .daemonStopped)
    }

    /// The socket systemd passed us, or one we bind at the configured path. A socket
    /// flowd binds itself gets mode 0660 and, when that group exists and flowd may
    /// give it away, the admin group (as flowd.socket's SocketGroup= does).
    private func openControlSocket(adminGroup: String) throws -> (descriptor: Int32, boundPath: String?) {
        if let activated = try SocketActivation.controlSocket() { return (activated, nil) }
        let group = Self.groupID(named: adminGroup).flatMap { gid in Self.mayChangeGroup(to: gid) ? gid : nil }
        let descriptor = try VarlinkServer.bindUnixSocket(path: paths.controlSocketPath, mode: 0o660, group: group)
        return (descriptor, paths.controlSocketPath)
    }

    /// WATCHDOG=1 from the loop, gated on the journal writer answering (SystemdWatchdog).
    private func startWatchdog(loop: EventLoop, notifier: SystemdNotifier, interval: Duration,
                               engine: Engine, journal: RunJournal, logger: DaemonLogger) {
        let watchdog = SystemdWatchdog(
            loop: loop, notifier: notifier, interval: interval,
            probe: { answered in
                guard engine.phase != .stopped else { return false }
                // Answered between commits and between the tries of a failing batch: a
                // writer retrying on a full disk is alive; one hung inside SQLite is not.
                journal.probe(answered)
                return true
            },
            onUnhealthy: { waited in
                logger.log(.critical, "the journal writer has not answered for \(waited); "
                           + "withholding watchdog pings so that systemd restarts flowd")
            })
        watchdog.start()
    }

    /// The gid of group `name`, or nil when there is no such group.
    static func groupID(named name: String) -> gid_t? {
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    /// Whether this process may chown a file it owns to `gid`: root, or a member.
    static func mayChangeGroup(to gid: gid_t) -> Bool {
        if geteuid() == 0 || getegid() == gid { return true }
        let count = getgroups(0, nil)
        guard count > 0 else { return false }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let filled = getgroups(count, &groups)
        return filled > 0 && groups.prefix(Int(filled)).contains(gid)
    }

    /// Blocks `signals` in this thread (and so in every thread created after) and returns
    /// a signalfd that reads them.
    static func blockedSignalsDescriptor(_ signals: [Int32]) throws(SystemError) -> Int32 {
        try systemCall("signalfd") { flowd_signalfd(signals, Int32(signals.count)) }
    }

    static func readSignals(_ descriptor: Int32) -> [Int32] {
        var received: [Int32] = []
        while case let signalNumber = flowd_signalfd_read(descriptor), signalNumber > 0 { received.append(signalNumber) }
        return received
    }

    /// A state directory flowd cannot write (a read-only mount, a wrong owner) fails the
    /// start with one line naming it, before anything else is tried there.
    static func requireWritableDirectory(_ directory: String) throws {
        guard access(directory, W_OK) != 0 else { return }
        let code = errno
        throw DaemonStartError("the state directory \(directory) is not writable: \(String(cString: strerror(code)))"
                               + "; flowd needs it for its journal and lock")
    }

    /// Takes an exclusive lock on STATE/flowd.lock; fails if another flowd holds it.
    static func lockStateDirectory(_ directory: String) throws -> Int32 {
        let path = directory + "/flowd.lock"
        let descriptor = try systemCall("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { throw DaemonStartError("another flowd is already running on \(directory) (\(path) is locked)") }
            throw SystemError(call: "flock", subject: path, errno: code)
        }
        return descriptor
    }
}
