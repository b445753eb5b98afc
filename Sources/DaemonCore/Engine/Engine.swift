// Engine.swift: the dispatcher. It owns runs, queues, limits and the worker budget.
//
// Everything here runs on the engine's EventLoop thread; workers and the journal writer
// report back with loop.execute. The engine never blocks: spawning and waiting happen on
// workers, SQL on the journal writer, and waits (sleep, retry backoff, rate-limit delay)
// are timers on the loop that hold no worker. How a run walks its steps is in
// EngineSteps.swift; how a step attempt is executed and judged in EngineAttempts.swift.
// Fairness: new runs start round-robin across workflows with queued runs, so a workflow
// with 10,000 queued files does not starve one with a single file; within a workflow
// runs start in order of arrival, within `concurrency` and `rate_limit`.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The workflow engine of one daemon. Confined to `loop`'s thread (hence @unchecked).
public final class Engine: @unchecked Sendable {
    enum Phase: String { case starting, running, draining, stopped }

    let loop: EventLoop
    let configuration: DaemonConfiguration
    let paths: DaemonPaths
    let journal: RunJournal
    let logger: DaemonLogger
    let statusBoard: EngineStatusBoard
    let notifier: SystemdNotifier
    let events: EventHub
    /// Secrets for expressions; the journal redacts with the same store.
    var credentials: CredentialStore { journal.credentials }
    let definitions: DefinitionStore
    let spool: SpoolDirectory
    var watcher: SpoolWatcher?
    var definitionWatcher: DefinitionWatcher?
    /// The debounced reload after a change in the workflows directory.
    var pendingReload: EventLoop.TimerID?
    var workers: WorkerPool
    var phase = Phase.starting
    /// Called on the loop thread once the engine has drained and stopped.
    var onStopped: (() -> Void)?

    var nextRunID: Int64
    var runs: [Int64: ActiveRun] = [:]
    /// Queued runs per workflow, in order of arrival.
    var queues: [String: [Int64]] = [:]
    /// Workflows in round-robin order; `roundRobinCursor` is the next to look at.
    var roundRobin: [String] = []
    var roundRobinCursor = 0
    var runningPerWorkflow: [String: Int] = [:]
    /// Start times (ContinuousClock) within the rate-limit window, per workflow.
    var recentStarts: [String: [ContinuousClock.Instant]] = [:]
    /// Workflows with a timer pending to retry starts held back by their rate limit.
    var rateLimitWakeups: Set<String> = []
    /// Runs whose current step waits for a free worker, in order.
    var readyRuns: [Int64] = []
    /// Attempts handed to workers or waiting for their "started" commit. Up to
    /// `attemptCapacity`: one attempt per worker runs while the next one's start commits,
    /// so a worker never idles through a journal round trip.
    var busyWorkers = 0
    var attemptCapacity: Int { workers.size * 2 }
    var queuedCount = 0
    /// The pending publication of counts (see publishCounts).
    var pendingCountsPublication: EventLoop.TimerID?
    /// Runs rebuilt from the journal at start, walked forward once the engine runs.
    var recoveringRuns: [Int64] = []
    /// Workflows paused by an operator: no new runs start (kept in the journal).
    var pausedWorkflows: Set<String> = []
    /// Cron slots fired, and the timers of the next ones.
    var scheduleBook = ScheduleBook()
    var scheduleTimers: [EventLoop.TimerID] = []
    /// Prunes finished runs past `retention.*` (EngineRetention.swift); nil until start.
    var retention: RetentionPruner?
    /// Callbacks waiting for a run to end (flowadm trigger --wait), by run id.
    var runWaiters: [Int64: [(String) -> Void]] = [:]
    /// While a trigger step creates its child run: runs that ended inside createRun,
    /// before the step could wait for them (their status). Nil otherwise.
    var childrenEndedAtOnce: [Int64: String]?
    /// The run whose attempt got the last worker (takeReadyAttempt alternates runs).
    var lastServedRun: Int64?
    /// The daemon's environment minus what children must never see.
    let baseEnvironment: [String: String]
    /// Where steps write KEY=value outputs ($FLOWD_OUTPUT).
    let outputDirectory: String
    /// The working directory of steps without `cwd:` (STATE/work).
    let workDirectory: String
    /// The journal writer's health as last reported (EngineJournalHealth.swift).
    var journalHealth = JournalHealth()
    /// Spool moves that failed (a full disk), tried again at each rescan.
    var unfinishedSpoolMoves: [UnfinishedSpoolMove] = []
    /// Templates parsed once, by text (TemplateCache.swift).
    var templateCache = TemplateCache()

    public init(loop: EventLoop, configuration: DaemonConfiguration, paths: DaemonPaths, journal: RunJournal,
                logger: DaemonLogger, statusBoard: EngineStatusBoard, notifier: SystemdNotifier, events: EventHub) {
        self.loop = loop
        self.configuration = configuration
        self.paths = paths
        self.journal = journal
        self.logger = logger
        self.statusBoard = statusBoard
        self.notifier = notifier
        self.events = events
        definitions = DefinitionStore(directory: paths.workflowsDirectory, connectorDirectories: [
            ConnectorCatalog.shippedDirectory(configurationDirectory: paths.configurationDirectory), paths.connectorsDirectory])
        spool = SpoolDirectory(root: paths.spoolDirectory)
        workers = WorkerPool(size: configuration.workers)
        nextRunID = journal.highestRunID + 1
        baseEnvironment = SystemdNotifier.scrubbedEnvironment(ProcessInfo.processInfo.environment)
        outputDirectory = paths.stateDirectory + "/outputs"
        workDirectory = paths.stateDirectory + "/work"
    }

    // MARK: Creating runs

    /// Records a new run and queues it. Returns its id.
    @discardableResult
    func createRun(definition: WorkflowDefinition, payload: JSONValue, trigger: TriggerInfo, parentRun: Int64? = nil,
                   id: Int64? = nil, replayOf: Int64? = nil, prepare: ((inout ActiveRun) -> [JournalWrite])? = nil) -> Int64 {
        let runID = id ?? nextRunID
        nextRunID = max(nextRunID, runID + 1)
        var run = ActiveRun(id: runID, definition: definition, payload: payload, trigger: trigger, parentRun: parentRun)
        run.replayOf = replayOf
        let extraWrites = prepare?(&run) ?? []
        journal.submit([.runCreated(RunRecord(
            id: runID, workflow: definition.name, definitionHash: definition.version, triggerKind: trigger.kind,
            triggerName: trigger.name, spoolPath: trigger.file, payload: payload, createdAt: WallClock.nowMicroseconds(),
            vars: .object(run.vars), parentRun: parentRun, replayOf: replayOf))] + extraWrites)
        enqueue(run)
        events.publish(["kind": "run_queued", "trigger": ["kind": .string(trigger.kind), "name": trigger.name.map(JSONValue.string) ?? .null]],
                       runID: runID, workflow: definition.name)
        dispatch()
        return runID
    }

    /// Adds a recorded run to its workflow's queue.
    func enqueue(_ run: ActiveRun) {
        runs[run.id] = run
        let workflow = run.definition.name
        if queues[workflow] == nil {
            queues[workflow] = []
            roundRobin.append(workflow)
        }
        queues[workflow]!.append(run.id)
        queuedCount += 1
    }

    // MARK: Dispatching

    /// Starts queued runs within their limits and hands waiting steps to free workers.
    func dispatch() {
        guard phase == .running else { return }
        while busyWorkers < attemptCapacity, !readyRuns.isEmpty {
            startWorkerAttempt(runID: takeReadyAttempt())
        }
        // A new run starts only while there is attempt capacity and no started run waits
        // for it: otherwise a big queue would line all its first steps up ahead of
        // everyone else's. Runs that only wait (sleep) or run in-process hold none.
        while busyWorkers < attemptCapacity, readyRuns.isEmpty, journalHealth.isWritable, let runID = nextQueuedRun() {
            begin(runID)
        }
        publishCounts()
    }

    /// Takes the next queued run, round-robin over workflows that have room.
    private func nextQueuedRun() -> Int64? {
        guard !roundRobin.isEmpty else { return nil }
        let now = ContinuousClock.now
        for offset in 0..<roundRobin.count {
            let index = (roundRobinCursor + offset) % roundRobin.count
            let workflow = roundRobin[index]
            // The first run of the queue that is not paused itself.
            guard !pausedWorkflows.contains(workflow), let queue = queues[workflow],
                  let position = queue.firstIndex(where: { runs[$0]?.pauseRequested == false }), let run = runs[queue[position]],
                  runningPerWorkflow[workflow, default: 0] < run.definition.concurrency,
                  admittedByRateLimit(workflow, run.definition.rateLimit, now: now) else { continue }
            queues[workflow]!.remove(at: position)
            queuedCount -= 1
            runningPerWorkflow[workflow, default: 0] += 1
            if run.definition.rateLimit != nil { recentStarts[workflow, default: []].append(now) }
            roundRobinCursor = (index + 1) % roundRobin.count
            return run.id
        }
        return nil
    }

    /// True when `workflow` may start a run now; otherwise arms one wake-up for when it may.
    private func admittedByRateLimit(_ workflow: String, _ limit: RateLimit?, now: ContinuousClock.Instant) -> Bool {
        guard let limit else { return true }
        var starts = recentStarts[workflow, default: []]
        starts.removeAll { now - $0 >= limit.window }
        recentStarts[workflow] = starts
        if starts.count < limit.count { return true }
        if !rateLimitWakeups.contains(workflow), let oldest = starts.first {
            rateLimitWakeups.insert(workflow)
            loop.schedule(at: oldest + limit.window) { [self] in
                rateLimitWakeups.remove(workflow)
                dispatch()
            }
        }
        return false
    }

    /// A run leaves its workflow's concurrency slot.
    func releaseSlot(of run: ActiveRun) {
        runningPerWorkflow[run.definition.name, default: 1] -= 1
    }

    /// Publishes the counts for status readers, at most every 50 ms: counting walks every
    /// run, and doing that per event made a long queue cost quadratic time.
    func publishCounts() {
        guard pendingCountsPublication == nil else { return }
        pendingCountsPublication = loop.schedule(after: .milliseconds(50)) { [self] in
            pendingCountsPublication = nil
            publishCountsNow()
        }
    }

    func publishCountsNow() {
        var waiting = 0
        var branches = 0
        // By index: `for run in runs.values` copied every run (thousands when queued).
        for index in runs.values.indices {
            if runs.values[index].branchOf != nil {
                branches += 1
            } else if runs.values[index].state != .queued && runs.values[index].state != .running {
                waiting += 1
            }
        }
        let running = runs.count - branches - queuedCount - waiting
        let queued = queuedCount
        let busy = min(busyWorkers, workers.size)
        let phase = phase.rawValue
        statusBoard.update {
            $0.running = running
            $0.queued = queued
            $0.waiting = waiting
            $0.busyWorkers = busy
            $0.phase = phase
        }
    }

    /// An exec program without a slash is looked up in PATH, as execvp does; when it is
    /// found nowhere the name is kept and the spawn reports ENOENT naming it.
    static func resolveProgram(_ program: String, searchPath: String) -> String {
        guard !program.contains("/") else { return program }
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = directory + "/" + program
            if access(candidate, X_OK) == 0, (try? FileSystem.status(candidate))?.kind != .directory { return candidate }
        }
        return program
    }
}
