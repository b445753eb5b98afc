// Daemon.swift: the manager that builds every part of flowd and runs the event loop.
//
// Order of start (SPEC section 9): configuration → journal opened and migrated →
// definitions loaded, spool prepared and rescanned → control socket listening →
// READY=1. Signals are blocked in every thread and read through a signalfd on the
// loop: SIGTERM/SIGINT drain and stop, SIGHUP reloads. A second flowd on the same
// state directory is refused through a lock file, so one journal has one writer.

#if canImport(Glibc)
import Glibc
#endif
import CFlowdShim

/// Why the daemon could not start or run; main maps it to an exit status.
public struct DaemonStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
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
        let lockDescriptor = try Self.lockStateDirectory(paths.stateDirectory)
        defer { close(lockDescriptor) }
        // Bound before any thread starts: binding briefly narrows the process umask.
        // Clients that connect early wait in the backlog until the server runs.
        let (listener, boundPath) = try openControlSocket()
        defer { if let boundPath { unlink(boundPath) } }

        let journal: RunJournal
        do {
            journal = try RunJournal(path: paths.journalPath, synchronous: configuration.journalSynchronous)
        } catch {
            throw DaemonStartError("cannot open the journal \(paths.journalPath): \(error)")
        }
        journal.start()

        let loop = try EventLoop()
        let statusBoard = EngineStatusBoard()
        let notifier = SystemdNotifier()
        let events = EventHub()
        let engine = Engine(loop: loop, configuration: configuration, paths: paths, journal: journal,
                            logger: logger, statusBoard: statusBoard, notifier: notifier, events: events)
        engine.onStopped = { loop.stop() }
        try engine.start()

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
        if let interval = notifier.watchdogPingInterval { scheduleWatchdog(loop: loop, notifier: notifier, interval: interval) }
        scheduleStatusUpdates(loop: loop, engine: engine)
        notifier.ready(status: engine.statusLine())
        logger.log(.notice, "flowd \(FlowdVersion.current) ready: \(statusBoard.current.workflows.count) workflow(s), "
                   + "\(configuration.workers) worker(s), control socket \(paths.controlSocketPath)", id: .daemonStarted)
        loop.run()
        logger.log(.notice, "flowd stopped")
    }

    /// The socket systemd passed us, or one we bind at the configured path.
    private func openControlSocket() throws -> (descriptor: Int32, boundPath: String?) {
        if let activated = try SocketActivation.controlSocket() { return (activated, nil) }
        let descriptor = try VarlinkServer.bindUnixSocket(path: paths.controlSocketPath, mode: 0o660)
        return (descriptor, paths.controlSocketPath)
    }

    /// WATCHDOG=1 from the loop itself, so a stuck loop stops the pings.
    private func scheduleWatchdog(loop: EventLoop, notifier: SystemdNotifier, interval: Duration) {
        loop.schedule(after: interval) { [self] in
            notifier.watchdogPing()
            scheduleWatchdog(loop: loop, notifier: notifier, interval: interval)
        }
    }

    private func scheduleStatusUpdates(loop: EventLoop, engine: Engine) {
        loop.schedule(after: .seconds(5)) { [self] in
            engine.notifier.status(engine.statusLine())
            scheduleStatusUpdates(loop: loop, engine: engine)
        }
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
