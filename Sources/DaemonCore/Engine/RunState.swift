// RunState.swift: what the engine knows about one run in progress.
//
// A run executes a stack of frames: the workflow's steps, then one handler list
// (on_success, on_failure or on_cancel); a step's fallback or a foreach body pushes a
// frame on top. Each frame remembers whether a step in it failed, which is what a step
// without `if:` checks ("run only if no earlier step failed"). Results of finished
// steps feed the expression context (`steps.<id>.status/output/exit_code/attempts`).

/// How a run was started, for `trigger.*` in expressions and the journal.
struct TriggerInfo: Sendable {
    var kind: String            // spool, manual, schedule, workflow, step
    var name: String?           // the spool file's name, the schedule text, ...
    var file: String?           // the claimed file in active/
    var size: Int?
    var modificationTime: Double?
    var ownerUID: UInt32?

    func expressionValue(payload: JSONValue) -> JSONValue {
        .object([
            "kind": .string(kind),
            "payload": payload,
            "name": name.map(JSONValue.string) ?? .null,
            "file": file.map(JSONValue.string) ?? .null,
            "size": size.map { .int(Int64($0)) } ?? .null,
            "mtime": modificationTime.map { .string(WallClock.rfc3339(microseconds: Int64($0 * 1_000_000))) } ?? .null,
            "owner": ownerUID.map { .int(Int64($0)) } ?? .null,
        ])
    }
}

/// The recorded outcome of a step, visible as `steps.<id>`.
struct StepResult: Sendable {
    var status: String
    var output: JSONValue
    var exitCode: Int32?
    var attempts: Int

    var expressionValue: JSONValue {
        .object(["status": .string(status), "output": output,
                 "exit_code": exitCode.map { .int(Int64($0)) } ?? .null, "attempts": .int(Int64(attempts))])
    }
}

/// The outcomes of a run's finished steps by step id, with their `steps.<id>`
/// expression values kept alongside: a step's expression context takes them as they
/// are instead of converting every result again (bench/FINDINGS.md, perf2).
struct StepResults: Sendable {
    private var outcomes: [String: StepResult] = [:]
    /// `steps` as expressions see it.
    private(set) var expressionValues: [String: JSONValue] = [:]

    subscript(stepID: String) -> StepResult? {
        get { outcomes[stepID] }
        set {
            outcomes[stepID] = newValue
            expressionValues[stepID] = newValue?.expressionValue
        }
    }
}

/// A list of steps being executed.
struct Frame: Sendable {
    enum Kind: Sendable {
        case main
        case handler(String)
        /// The fallback of the step at `stepID`; success replaces that step's outcome.
        case fallback(stepID: String)
        /// One foreach step: `items`, and which item the body runs for now.
        case foreach(stepID: String, items: [JSONValue], index: Int)
    }

    var steps: [StepDefinition]
    var index = 0
    var kind: Kind
    var failed = false
    /// Output of the last step that finished in this frame (a fallback's result).
    var lastOutput: JSONValue = .null
    var foreachOutputs: [JSONValue] = []
}

/// The step a run is executing now.
struct CurrentStep: Sendable {
    var definition: StepDefinition
    var sequence: Int
    var attempt: Int
    var needsWorker: Bool
    var input: JSONValue = .null
    var cancellation: ProcessCancellation?
    /// A sleep, a retry backoff or an approval timeout.
    var timer: EventLoop.TimerID?
    /// The run was cancelled or timed out while this attempt was in flight: its frame is
    /// gone, so its outcome is recorded but does not move the run.
    var abandoned = false
    /// `flowadm pause --kill` stopped this attempt: it is tried again on resume.
    var stoppedByPause = false
    /// An approval step waiting for its answer: the prompt as rendered, and since when.
    var prompt: String?
    var waitingSince: Int64?
    var deadline: Int64?
}

/// One run the engine is carrying (queued, running or waiting).
struct ActiveRun: Sendable {
    enum State: String, Sendable { case queued, running, waiting, paused, interrupted }

    var id: Int64
    var definition: WorkflowDefinition
    var payload: JSONValue { didSet { triggerValue = trigger.expressionValue(payload: payload) } }
    var trigger: TriggerInfo { didSet { triggerValue = trigger.expressionValue(payload: payload) } }
    /// `trigger` as expressions see it, built when the trigger or payload is set rather
    /// than for every step.
    private(set) var triggerValue: JSONValue
    var vars: [String: JSONValue]
    var parentRun: Int64?
    var replayOf: Int64?
    var state = State.queued
    var started = false
    var startedAt: Int64? { didSet { startedAtValue = startedAt.map { .string(WallClock.rfc3339(microseconds: $0)) } ?? .null } }
    /// `run.started_at` as expressions see it.
    private(set) var startedAtValue = JSONValue.null
    var frames: [Frame] = []
    var results = StepResults()
    var nextSequence = 0
    var current: CurrentStep?
    var failedStep: String?
    var failureError: String?
    /// Set once the main steps are done (or the run was cancelled or timed out).
    var finalStatus: String?
    var cancelRequested = false
    /// Stop at the next step boundary (flowadm pause RUN).
    var pauseRequested = false
    /// After a restart: the journaled step executions not yet walked through again.
    var recorded: [RecordedStep] = []
    var runTimer: EventLoop.TimerID?
    /// On an item branch of a parallel foreach: the key of the run it belongs to.
    var branchOf: Int64?
    /// On a run executing a parallel foreach: its items' progress (EngineParallel.swift).
    var parallel: ParallelForeach?

    var spoolPath: String? { trigger.file }

    init(id: Int64, definition: WorkflowDefinition, payload: JSONValue, trigger: TriggerInfo, parentRun: Int64? = nil) {
        self.id = id
        self.definition = definition
        self.payload = payload
        self.trigger = trigger
        triggerValue = trigger.expressionValue(payload: payload)
        self.vars = definition.vars
        self.parentRun = parentRun
        frames = [Frame(steps: definition.steps, kind: .main)]
    }

    /// run.status as steps see it: the final status in handlers, else running or failed.
    var visibleStatus: String {
        if let finalStatus { return finalStatus }
        return frames.first?.failed == true ? "failed" : "running"
    }

    /// The expression roots for the step about to run.
    func expressionContext(step: StepDefinition?, attempt: Int, credentials: JSONValue = .object([:])) -> ExpressionContext {
        var roots: [String: JSONValue] = [
            "trigger": triggerValue,
            "run": .object([
                "id": .int(id), "workflow": .string(definition.name), "status": .string(visibleStatus),
                "attempt": .int(Int64(attempt)),
                "started_at": startedAtValue,
                "failed_step": failedStep.map(JSONValue.string) ?? .null,
                "replay_of": replayOf.map(JSONValue.int) ?? .null,
            ]),
            "steps": .object(results.expressionValues),
            "env": .object(definition.environment.merging(step?.environment ?? [:]) { $1 }.mapValues(JSONValue.string)),
            "vars": .object(vars),
            "credentials": credentials,
        ]
        for frame in frames.reversed() {
            if case .foreach(_, let items, let index) = frame.kind, index < items.count {
                roots["item"] = items[index]
                roots["index"] = .int(Int64(index))
                break
            }
        }
        return ExpressionContext(roots: roots)
    }
}
