// Engine.swift: the dispatcher. It owns runs, queues and the worker budget.
//
// Everything here runs on the engine's EventLoop thread; workers and the journal writer
// report back with loop.execute. The engine never blocks: spawning and waiting happen on
// workers, SQL on the journal writer. Order of a step attempt (SPEC section 5):
//   reserve a worker → journal "attempt started" → after commit, hand it to a worker →
//   outcome back on the loop → journal "attempt finished" → next step or end of run.
// The next step's "started" is queued behind the previous "finished" in the same writer,
// so it can only commit (and the step only spawn) after the finish is durable.
// Fairness: new runs are started round-robin across workflows with queued runs, so a
// workflow with 10,000 queued files does not starve one with a single file.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run the engine is carrying (queued or running).
struct ActiveRun {
    var id: Int64
    var definition: WorkflowDefinition
    var payload: JSONValue
    var triggerName: String?
    var spoolPath: String?
    var stepIndex = 0
    var started = false
    var startedAt: Int64?
    var cancellation: ProcessCancellation?
}

/// Why a step attempt produced no process outcome.
enum StepStartFailure: Error {
    /// The spawn failed.
    case system(SystemError)
    /// The step's kind (http, approval, ...) has no executor yet.
    case unsupportedKind(String)
}

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
    /// Runs whose next step may start (they already hold a concurrency slot).
    var readyRuns: [Int64] = []
    var busyWorkers = 0
    var queuedCount: Int { queues.values.reduce(0) { $0 + $1.count } }
    /// The daemon's environment minus what children must never see.
    let baseEnvironment: [String: String]

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
        definitions = DefinitionStore(directory: paths.workflowsDirectory)
        spool = SpoolDirectory(root: paths.spoolDirectory)
        workers = WorkerPool(size: configuration.workers)
        nextRunID = journal.highestRunID + 1
        baseEnvironment = SystemdNotifier.scrubbedEnvironment(ProcessInfo.processInfo.environment)
    }

    // MARK: Dispatching

    /// Starts as many step attempts as there are free workers.
    func dispatch() {
        guard phase == .running else { return }
        while busyWorkers < workers.size {
            if !readyRuns.isEmpty {
                startStep(of: readyRuns.removeFirst())
            } else if let runID = nextQueuedRun() {
                startStep(of: runID)
            } else {
                break
            }
        }
        publishCounts()
    }

    /// Takes the next queued run, round-robin over workflows that have room.
    private func nextQueuedRun() -> Int64? {
        guard !roundRobin.isEmpty else { return nil }
        for offset in 0..<roundRobin.count {
            let index = (roundRobinCursor + offset) % roundRobin.count
            let workflow = roundRobin[index]
            guard var queue = queues[workflow], !queue.isEmpty,
                  let run = queue.first.flatMap({ runs[$0] }),
                  runningPerWorkflow[workflow, default: 0] < run.definition.concurrency else { continue }
            queue.removeFirst()
            queues[workflow] = queue
            runningPerWorkflow[workflow, default: 0] += 1
            roundRobinCursor = (index + 1) % roundRobin.count
            return run.id
        }
        return nil
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
    }

    private func startStep(of runID: Int64) {
        guard var run = runs[runID] else { return }
        let step = run.definition.steps[run.stepIndex]
        let now = WallClock.nowMicroseconds()
        var writes: [JournalWrite] = []
        if !run.started {
            run.started = true
            run.startedAt = now
            writes.append(.runStarted(runID: runID, at: now))
            logger.log(.info, "run \(runID) of \(run.definition.name) started", id: .runStarted,
                       fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STATUS": "running"])
            events.publish(["kind": "run_started"], runID: runID, workflow: run.definition.name)
        }
        events.publish(["kind": "attempt_started", "step": .string(step.id), "attempt": 1], runID: runID, workflow: run.definition.name)
        writes.append(.attemptStarted(runID: runID, stepIndex: run.stepIndex, stepID: step.id, attempt: 1, at: now))
        let cancellation = ProcessCancellation()
        run.cancellation = cancellation
        runs[runID] = run
        busyWorkers += 1
        // Only run steps are executed so far; any other kind fails its attempt (issue 4).
        let processSpec = step.action == nil ? nil : makeProcessSpec(run: run, step: step, attempt: 1)
        let stepIndex = run.stepIndex
        journal.submit(writes) { [self] outcome in
            switch outcome {
            case .success:
                guard let processSpec else {
                    loop.execute { [self] in stepFinished(runID: runID, stepIndex: stepIndex, result: .failure(.unsupportedKind(step.kind.name))) }
                    return
                }
                workers.submit { [self] in
                    let result = Result { () throws(SystemError) -> ProcessOutcome in
                        try ProcessRunner.run(processSpec, cancellation: cancellation)
                    }
                    loop.execute { [self] in stepFinished(runID: runID, stepIndex: stepIndex, result: result.mapError(StepStartFailure.system)) }
                }
            case .failure(let error):
                loop.execute { [self] in
                    busyWorkers -= 1
                    logger.log(.error, "journal write failed, run \(runID) not started: \(error)",
                               fields: ["FLOWD_RUN": "\(runID)"])
                }
            }
        }
    }

    func makeProcessSpec(run: ActiveRun, step: StepDefinition, attempt: Int) -> ProcessSpec {
        var environment = baseEnvironment
        environment.merge(run.definition.environment) { $1 }
        environment.merge(step.environment) { $1 }
        environment["FLOWD_RUN"] = String(run.id)
        environment["FLOWD_WORKFLOW"] = run.definition.name
        environment["FLOWD_STEP"] = step.id
        environment["FLOWD_ATTEMPT"] = String(attempt)
        environment["FLOWD_TRIGGER_FILE"] = run.spoolPath
        environment["FLOWD_TRIGGER_NAME"] = run.triggerName
        var spec: ProcessSpec
        switch step.action {
        case nil:
            preconditionFailure("makeProcessSpec is only called for run steps")
        case .run(let command, let shell)?:
            spec = ProcessSpec(executable: shell, arguments: ["-c", command], environment: environment)
        case .exec(let arguments)?:
            let program = Self.resolveProgram(arguments[0], searchPath: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            spec = ProcessSpec(executable: program, arguments: Array(arguments.dropFirst()), environment: environment)
        }
        spec.workingDirectory = step.workingDirectory
        spec.timeout = step.timeout
        spec.outputLimit = configuration.outputLimit
        return spec
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

    private func stepFinished(runID: Int64, stepIndex: Int, result: Result<ProcessOutcome, StepStartFailure>) {
        busyWorkers -= 1
        guard var run = runs[runID] else { return }
        run.cancellation = nil
        let step = run.definition.steps[stepIndex]
        var durationMilliseconds: Int64 = 0
        var end = AttemptEnd(runID: runID, stepIndex: stepIndex, attempt: 1, status: "failed",
                             endedAt: WallClock.nowMicroseconds(), exitCode: nil, signal: nil, standardOutput: "",
                             standardError: "", standardOutputBytes: 0, standardErrorBytes: 0, error: nil)
        switch result {
        case .success(let outcome):
            end.standardOutput = String(decoding: outcome.standardOutput, as: UTF8.self)
            end.standardError = String(decoding: outcome.standardError, as: UTF8.self)
            end.standardOutputBytes = outcome.standardOutputBytes
            end.standardErrorBytes = outcome.standardErrorBytes
            durationMilliseconds = (outcome.endedAt - outcome.startedAt).milliseconds
            switch outcome.termination {
            case .exited(let code): end.exitCode = code
            case .signaled(let signal): end.signal = signal
            }
            if outcome.cancelled {
                end.status = "interrupted"
                end.error = "stopped by the daemon's shutdown"
            } else if outcome.timedOut {
                end.status = "timed_out"
                end.error = "timed out after \(DurationText.format(step.timeout ?? .zero))"
            } else if end.exitCode == 0 {
                end.status = "succeeded"
            } else if let code = end.exitCode {
                end.error = "exited with status \(code)"
            } else {
                end.error = "killed by signal \(end.signal ?? 0)"
            }
        case .failure(.system(let error)):
            end.error = "could not start: \(error)"
        case .failure(.unsupportedKind(let kind)):
            end.error = "step kind '\(kind)' is not supported by this flowd yet"
        }
        journal.submit([.attemptFinished(end)])
        logger.log(end.status == "succeeded" ? .info : .warning,
                   "run \(runID) step \(step.id) attempt 1 \(end.status)" + (end.error.map { ": \($0)" } ?? ""),
                   id: .stepAttemptFinished,
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STEP": step.id,
                            "FLOWD_ATTEMPT": "1", "FLOWD_STATUS": end.status, "FLOWD_DURATION_MS": "\(durationMilliseconds)"])
        events.publish(["kind": "attempt_finished", "step": .string(step.id), "attempt": 1, "status": .string(end.status),
                        "exit_code": end.exitCode.map { .int(Int64($0)) } ?? .null, "duration_ms": .int(durationMilliseconds),
                        "stdout": .string(end.standardOutput), "stderr": .string(end.standardError),
                        "error": end.error.map(JSONValue.string) ?? .null],
                       runID: runID, workflow: run.definition.name)
        if end.status == "interrupted" {
            runs[runID] = nil
            runningPerWorkflow[run.definition.name, default: 1] -= 1
        } else if end.status == "succeeded" && stepIndex + 1 < run.definition.steps.count {
            run.stepIndex = stepIndex + 1
            runs[runID] = run
            readyRuns.append(runID)
        } else {
            runs[runID] = run
            finishRun(runID, status: end.status == "succeeded" ? "succeeded" : "failed",
                      failedStep: end.status == "succeeded" ? nil : step.id, error: end.error)
        }
        dispatch()
        if phase == .draining { drainIfIdle() }
    }

    /// Records the end of a run, then moves its spool file to done/.
    func finishRun(_ runID: Int64, status: String, failedStep: String?, error: String?) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        runningPerWorkflow[run.definition.name, default: 1] -= 1
        let endedAt = WallClock.nowMicroseconds()
        let durationMilliseconds = run.startedAt.map { (endedAt - $0) / 1000 } ?? 0
        logger.log(status == "succeeded" ? .info : .error,
                   "run \(runID) of \(run.definition.name) \(status)" + (failedStep.map { " at step \($0)" } ?? ""),
                   id: .runFinished,
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STATUS": status,
                            "FLOWD_DURATION_MS": "\(durationMilliseconds)"])
        events.publish(["kind": "run_finished", "status": .string(status), "failed_step": failedStep.map(JSONValue.string) ?? .null,
                        "error": error.map(JSONValue.string) ?? .null, "duration_ms": .int(durationMilliseconds)],
                       runID: runID, workflow: run.definition.name)
        journal.submit([.runFinished(runID: runID, status: status, at: endedAt, failedStep: failedStep, error: error)]) { [self] outcome in
            guard case .success = outcome, let activePath = run.spoolPath else { return }
            loop.execute { [self] in moveToDone(runID: runID, workflow: run.definition.name, activePath: activePath) }
        }
    }

    private func moveToDone(runID: Int64, workflow: String, activePath: String) {
        do {
            let donePath = try spool.finish(activePath: activePath, workflow: workflow)
            journal.submit([.runSpoolPath(runID: runID, path: donePath)])
        } catch {
            logger.log(.error, "could not move \(activePath) to done/: \(error)", fields: ["FLOWD_RUN": "\(runID)"])
        }
    }

    func publishCounts() {
        let running = runs.count - queuedCount
        let queued = queuedCount
        let busy = busyWorkers
        let phase = phase.rawValue
        statusBoard.update {
            $0.running = running
            $0.queued = queued
            $0.busyWorkers = busy
            $0.phase = phase
        }
    }
}
