// EngineLifecycle.swift: start, reload and the graceful stop of the engine.
//
// start(): load definitions, prepare and watch the spool, settle runs a previous
// instance left unfinished, rescan, then accept work. reload() (SIGHUP) re-reads the
// workflows. beginShutdown() (SIGTERM/SIGINT): stop starting steps and claiming files,
// let running steps finish within shutdown_grace, then stop them (their attempts are
// journaled as interrupted), close the journal and stop the loop.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

extension Engine {
    /// Brings the engine up on the loop thread. Throws only on what makes the daemon unusable.
    /// Reads the credentials (at start and on reload) and reports unusable ones.
    func loadCredentials() {
        credentials.load(systemdDirectory: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"],
                         configuredDirectory: configuration.credentialsDirectory)
        for (name, problem) in credentials.names.refused.sorted(by: { $0.key < $1.key }) {
            logger.log(.warning, "credential \(name) refused: \(problem)")
        }
    }

    func start() throws {
        observeJournalHealth()
        loadCredentials()
        try FileSystem.makeDirectories(workDirectory, mode: 0o755)
        try FileSystem.makeDirectories(outputDirectory, mode: 0o711)
        // Steps running as another user reach their own $FLOWD_OUTPUT file (0600, theirs)
        // by path; nobody can list the directory.
        chmod(outputDirectory, 0o711)
        reloadDefinitions()
        try spool.prepare(workflows: Array(definitions.workflows.keys))
        let watcher = try SpoolWatcher(spool: spool)
        self.watcher = watcher
        try loop.register(watcher.descriptor) { [self] _ in
            for event in watcher.readEvents() { handle(event) }
        }
        for workflow in definitions.workflows.keys { try watcher.watch(workflow: workflow) }
        try watchDefinitions()
        let reader = try JournalReader(path: journal.path)
        nextRunID = max(nextRunID, highestClaimedRunID() + 1)
        stopOrphanedProcesses(reader)
        sweepOutputFiles()
        try recoverUnfinishedRuns(reader)
        scheduleBook.lastFired = try reader.scheduleSlots()
        pausedWorkflows = try reader.pausedWorkflows()
        phase = .running
        reconcileActiveSpool(reader)
        resumeRecoveredRuns()
        armSchedules(catchingUp: true)
        rescanSpool()
        scheduleRescan()
        startRetention()
        publishCountsNow()
    }

    /// Removes the $FLOWD_OUTPUT files of attempts an earlier daemon did not finish (after
    /// their orphaned processes are stopped, before any attempt starts): a file at an
    /// attempt's path is always that attempt's own.
    private func sweepOutputFiles() {
        for name in (try? FileSystem.entries(outputDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: outputDirectory + "/" + name)
        }
    }

    /// The highest run id in a claimed file's name: ids are taken at the claim, so a
    /// crash between the claim and its record must not let the id be reused.
    private func highestClaimedRunID() -> Int64 {
        spool.claimedFiles().map(\.runID).max() ?? 0
    }

    /// Hot reload: the first change in the workflows directory after a quiet spell
    /// reloads at once (the events come after the write is complete); changes within
    /// `reloadDebounce` of the last one are coalesced into one more reload at the end
    /// of the burst. Each reload re-reads only the files the events named.
    private func watchDefinitions() throws {
        let definitionWatcher = try DefinitionWatcher(directory: paths.workflowsDirectory)
        self.definitionWatcher = definitionWatcher
        func reloadChangedFiles() {
            guard phase == .running else { return }
            reloadDefinitions(names: definitionWatcher.takeChangedNames())
            armSchedules(catchingUp: false)
            rescanSpool()
        }
        try loop.register(definitionWatcher.descriptor) { [self] _ in
            guard definitionWatcher.drainChanges() else { return }
            if let pending = pendingReload {
                loop.cancel(pending)
            } else {
                reloadChangedFiles()
            }
            pendingReload = loop.schedule(after: Self.reloadDebounce) { [self] in
                pendingReload = nil
                if definitionWatcher.hasChanges { reloadChangedFiles() }
            }
        }
    }

    static let reloadDebounce = Duration.milliseconds(20)

    private func scheduleRescan() {
        loop.schedule(after: configuration.spoolRescanInterval) { [self] in
            guard phase == .running else { return }
            rescanSpool()
            scheduleRescan()
        }
    }

    /// Re-reads the workflows directory (or only the files `names`, when the store can
    /// tell that is enough), journals new versions and logs errors.
    func reloadDefinitions(names: Set<String>? = nil) {
        let (changed, problems) = names.map { definitions.reload(names: $0) } ?? definitions.reload()
        let now = WallClock.nowMicroseconds()
        // The bytes this reload parsed are the source of its new versions; a version
        // taken from an earlier pass (rare) is checked against the file as it is now.
        let sources = definitions.takeSources()
        if !changed.isEmpty {
            journal.submit(changed.map {
                let source = sources[$0.sourcePath].flatMap { String(validating: $0, as: UTF8.self) } ?? Self.sourceText(of: $0)
                return .definitionLoaded(hash: $0.version, workflow: $0.name, canonical: $0.canonicalText, sourcePath: $0.sourcePath,
                                         source: source, at: now)
            })
        }
        for definition in changed {
            logger.log(.info, "workflow \(definition.name) loaded (version \(definition.version.prefix(12)))",
                       id: .definitionLoaded, fields: ["FLOWD_WORKFLOW": definition.name])
            if phase == .running {
                try? FileSystem.makeDirectories(spool.incoming(definition.name), mode: 0o775)
                try? watcher?.watch(workflow: definition.name)
            }
        }
        for problem in problems {
            let workflow = WorkflowLoader.fileStem(problem.path)
            for error in problem.errors {
                logger.log(.error, "invalid workflow definition: \(error)", id: .definitionError,
                           fields: WorkflowLoader.isValidName(workflow) ? ["FLOWD_WORKFLOW": workflow] : [:])
            }
        }
        publishWorkflows()
        publishConnectors()
    }

    /// The workflow list (with load errors and paused flags) for the control server.
    func publishWorkflows() {
        let problems = definitions.problems
        // Sorted names, not sorted definitions: sorting moves whole WorkflowDefinitions.
        let workflows = definitions.workflows.keys.sorted().compactMap { name -> JSONValue? in
            guard let definition = definitions.workflows[name] else { return nil }
            var triggers: [JSONValue] = []
            if definition.spoolFormat != nil { triggers.append("spool") }
            if !definition.triggers.schedules.isEmpty { triggers.append("schedule") }
            if definition.manualTrigger { triggers.append("manual") }
            if definition.triggers.workflow != nil { triggers.append("workflow") }
            return .object([
                "name": .string(definition.name),
                "description": definition.description.map(JSONValue.string) ?? .null,
                "version": .string(definition.version),
                "path": .string(definition.sourcePath),
                "steps": .int(Int64(definition.steps.count)),
                "triggers": .array(triggers),
                "concurrency": .int(Int64(definition.concurrency)),
                "paused": .bool(pausedWorkflows.contains(definition.name)),
                "errors": .array((problems[definition.sourcePath]?.errors ?? []).map { .string($0.description) }),
            ])
        }
        let errors = problems.values.sorted { $0.path < $1.path }.map { problem -> JSONValue in
            .object(["path": .string(problem.path), "errors": .array(problem.errors.map { .string($0.description) })])
        }
        statusBoard.update {
            $0.workflows = workflows
            $0.definitionErrors = errors
            $0.workers = workers.size
        }
    }

    /// The file text a definition was loaded from, for replays with the original version;
    /// nil when the file has changed since (its text would not match the version).
    static func sourceText(of definition: WorkflowDefinition) -> String? {
        guard let bytes = try? FileSystem.readRegularFile(definition.sourcePath, maxBytes: 1 << 20),
              let text = String(validating: bytes, as: UTF8.self),
              let reloaded = try? WorkflowLoader.load(text: text, path: definition.sourcePath),
              reloaded.version == definition.version else { return nil }
        return text
    }

    /// SIGHUP: re-read workflows.
    func reload() {
        notifier.reloading()
        loadCredentials()
        reloadDefinitions()
        if phase == .running { armSchedules(catchingUp: false) }
        if phase == .running { rescanSpool() }
        notifier.ready(status: statusLine())
        logger.log(.notice, "configuration reloaded", id: .daemonReloaded)
    }

    /// SIGTERM/SIGINT: drain, then stop.
    func beginShutdown() {
        guard phase == .running || phase == .starting else { return }
        phase = .draining
        journal.stopRetrying(after: configuration.shutdownGrace)
        publishCountsNow()
        notifier.stopping(status: "draining \(busyWorkers) running step(s)")
        logger.log(.notice, "stopping: waiting up to \(DurationText.format(configuration.shutdownGrace)) for \(busyWorkers) running step(s)",
                   id: .daemonStopping)
        if busyWorkers > 0 {
            notifier.extendTimeout(configuration.shutdownGrace + .seconds(10))
            loop.schedule(after: configuration.shutdownGrace) { [self] in
                guard phase == .draining else { return }
                logger.log(.warning, "shutdown grace over: stopping \(busyWorkers) running step(s)")
                for run in runs.values { run.current?.cancellation?.cancel() }
            }
        }
        drainIfIdle()
    }

    /// Once no step runs: wait for the journal writer to deliver every earlier completion
    /// (they may queue last spool moves on the loop), then close the journal and stop.
    func drainIfIdle() {
        guard phase == .draining, busyWorkers == 0 else { return }
        phase = .stopped
        publishCountsNow()
        journal.submit([]) { [self] _ in
            loop.execute { [self] in
                workers.shutdown()
                retention?.stop()
                journal.close()
                onStopped?()
            }
        }
    }

    /// The STATUS= text, from the same snapshot the control socket shows.
    func statusLine() -> String {
        publishCountsNow()
        return SystemdStatusReporter.statusLine(statusBoard.current)
    }
}
