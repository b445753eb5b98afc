// WorkflowDefinition.swift: the typed model of one workflow file (SPEC section 2).
//
// This is what the engine runs. It is built only by WorkflowLoader, which has checked
// every field (names, ranges, expressions, cron texts, step references), so the engine
// never re-validates. Steps and their kinds are in StepDefinition.swift, the retry
// policy in RetryPolicy.swift, the canonical form and version in CanonicalForm.swift.
// Nothing here fails.

/// How a spool file's content becomes the trigger payload.
public enum PayloadFormat: String, Sendable, CaseIterable {
    case json, yaml, raw, lines
}

/// `on.spool`: the workflow accepts files dropped into `incoming/<workflow>/`.
public struct SpoolTrigger: Sendable, Equatable {
    /// How the file's content becomes `trigger.payload` (default json).
    public var format: PayloadFormat = .json

    public init(format: PayloadFormat = .json) { self.format = format }
}

/// One `on.schedule` entry: a cron text and whether missed slots are caught up.
public struct ScheduleTrigger: Sendable {
    /// The text as written, e.g. `TZ=Europe/Paris 30 3 * * *` or `@daily`.
    public var text: String
    /// The parsed schedule.
    public var schedule: CronSchedule
    /// Run once for the slots missed while the daemon was down (default false).
    public var catchUp: Bool
    public var location: SourceLocation
}

/// `on.workflow`: start this workflow when a run of another one ends.
public struct WorkflowTrigger: Sendable, Equatable {
    /// End states a run of another workflow can reach.
    public enum Status: String, Sendable, CaseIterable {
        case succeeded, failed, cancelled, interrupted
    }

    /// The workflow whose runs are watched.
    public var name: String
    /// Which end states start a run; default succeeded, failed and cancelled (any end).
    public var statuses: [Status]
}

/// Every way a run of the workflow can start.
public struct WorkflowTriggers: Sendable {
    public var spool: SpoolTrigger?
    public var schedules: [ScheduleTrigger] = []
    /// `flowadm trigger` by owners (admins may always trigger). Default true.
    public var manual: Bool = true
    public var workflow: WorkflowTrigger?

    public init() {}
}

/// `rate_limit: N/s|N/min|N/h`: at most `count` run starts per `window`.
public struct RateLimit: Sendable, Equatable {
    public var count: Int
    public var window: Duration
    /// The unit as written: "s", "min" or "h".
    public var unit: String

    /// The limit as text, e.g. "30/min".
    public var text: String { "\(count)/\(unit)" }
}

/// One loaded, validated workflow.
public struct WorkflowDefinition: Sendable {
    public var name: String
    public var description: String?
    public var sourcePath: String
    public var triggers = WorkflowTriggers()
    /// Runs of this workflow at once (default 1).
    public var concurrency: Int = 1
    public var rateLimit: RateLimit?
    /// Whole-run deadline.
    public var timeout: Duration?
    /// Unix groups that may trigger, pause, resume, replay, cancel and approve its runs.
    public var owners: [String] = []
    /// Workflow-wide environment; values may hold `{{ }}` templates.
    public var environment: [String: String] = [:]
    /// Static values visible to expressions as `vars.*`; strings may hold templates.
    public var vars: [String: JSONValue] = [:]
    /// The default retry policy of every step that has none of its own.
    public var retry: RetryPolicy?
    public var steps: [StepDefinition]
    /// Handler steps run when the run fails, succeeds or is cancelled.
    public var onFailure: [StepDefinition] = []
    public var onSuccess: [StepDefinition] = []
    public var onCancel: [StepDefinition] = []
    /// The version: SHA-256 of the canonical text, in hex. Stamped by the loader once
    /// the definition is complete (hashing per access cost ~1 ms per spool claim).
    public internal(set) var version = ""

    public init(name: String, sourcePath: String, steps: [StepDefinition]) {
        self.name = name
        self.sourcePath = sourcePath
        self.steps = steps
    }

    /// The spool trigger's payload format, when the workflow accepts spool files.
    public var spoolFormat: PayloadFormat? {
        get { triggers.spool?.format }
        set { triggers.spool = newValue.map { SpoolTrigger(format: $0) } }
    }

    /// Whether `flowadm trigger` is allowed for owners.
    public var manualTrigger: Bool {
        get { triggers.manual }
        set { triggers.manual = newValue }
    }

    /// Every step of the workflow, depth first in document order: main steps with
    /// their fallback and foreach bodies, then on_failure, on_success, on_cancel.
    public var allSteps: [StepDefinition] {
        func flatten(_ steps: [StepDefinition]) -> [StepDefinition] {
            steps.flatMap { step in [step] + flatten(step.nestedSteps) }
        }
        return flatten(steps) + flatten(onFailure) + flatten(onSuccess) + flatten(onCancel)
    }

    /// The step with `id` anywhere in the workflow (ids are unique).
    public func step(id: String) -> StepDefinition? {
        allSteps.first { $0.id == id }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
