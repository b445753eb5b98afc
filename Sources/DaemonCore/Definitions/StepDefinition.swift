// StepDefinition.swift: one step of a workflow and what it does (its kind).
//
// A step does exactly one thing: run a command, send an HTTP request, compute values,
// loop, sleep, wait for an approval, start another workflow, call a connector action
// or fail the run. Strings that may hold `{{ }}` templates are kept as written; the
// loader has parsed every one, the engine evaluates them per attempt. Nothing here
// fails.

/// How a `run:` step's stdout (or `$FLOWD_OUTPUT`) becomes the step's output.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// The default: the output is `{stdout, stderr, exit_code}` as text.
    case text
    /// stdout parsed as one JSON document.
    case json
    /// stdout split into a list of lines (the trailing newline dropped).
    case lines
    /// `KEY=value` lines the step wrote to the file named by `$FLOWD_OUTPUT`, as an
    /// object of strings (GitHub Actions style).
    case env
}

/// What a step does.
public enum StepAction: Sendable, Equatable {
    /// A shell command, run as `shell -c command`.
    case run(command: String, shell: String)
    /// An argv run without a shell.
    case exec(arguments: [String])
}

/// `run:` / `exec:` — a process.
public struct RunStep: Sendable, Equatable {
    public var action: StepAction
    /// Run as this user / group (only when flowd runs as root).
    public var user: String?
    public var group: String?
    /// Text fed to the process's stdin (a template); nil means /dev/null.
    public var standardInput: String?
    public var outputs: OutputFormat = .text
}

/// `http:` — one request.
public struct HTTPStep: Sendable, Equatable {
    public static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    public var method: String = "GET"
    public var url: String
    public var headers: [String: String] = [:]
    public var query: [String: String] = [:]
    /// A JSON body (strings may hold templates), or nil.
    public var body: JSONValue?
    /// A file whose bytes are the body (a template), or nil. Never both with `body`.
    public var bodyFile: String?
    /// The request's own timeout (the step's `timeout` bounds the whole attempt).
    public var timeout: Duration?
    /// Statuses that count as success; empty means any 2xx.
    public var expect: [Int] = []
}

/// `foreach:` — run `steps` once per item of the list `items` yields.
public struct ForeachStep: Sendable {
    /// The template yielding the list.
    public var items: String
    /// The `do:` steps; `item` and `index` are in scope.
    public var steps: [StepDefinition]
    /// Items run at once (default 1).
    public var parallel: Int = 1
    /// The attempt fails when the list is longer (default 1000).
    public var maxItems: Int = 1000
}

/// `sleep:` — wait without holding a worker.
public enum SleepStep: Sendable, Equatable {
    case duration(Duration)
    /// Until a timestamp (RFC 3339 text or unix seconds), given as a template.
    case until(String)
}

/// One field of an approval form.
public struct ApprovalField: Sendable, Equatable {
    public enum FieldType: String, Sendable, CaseIterable {
        case string, boolean, number, integer
    }

    public var name: String
    public var type: FieldType = .string
    public var required: Bool = false
    /// Allowed values (each of the field's type), or nil for any.
    public var allowedValues: [JSONValue]?
    /// A regular expression a string answer must match entirely.
    public var pattern: String?
}

/// `approval:` — a human decision.
public struct ApprovalStep: Sendable, Equatable {
    /// What to do when nobody answers before `timeout`.
    public enum TimeoutAction: String, Sendable, CaseIterable {
        case approve, reject, fail
    }

    /// The prompt (a template).
    public var prompt: String
    /// The form, sorted by field name.
    public var fields: [ApprovalField] = []
    public var timeout: Duration?
    /// Default reject: the step fails as rejected.
    public var onTimeout: TimeoutAction = .reject
}

/// `trigger:` — start another workflow.
public struct TriggerStep: Sendable, Equatable {
    public var workflow: String
    /// The new run's payload; strings may hold templates. Default an empty object.
    public var payload: JSONValue = .object([:])
    /// Wait for the run to end; its status and outputs become this step's output.
    public var wait: Bool = false
}

/// `uses: connector/action` with `with:` inputs.
public struct UsesStep: Sendable, Equatable {
    public var connector: String
    public var action: String
    /// Inputs; strings may hold templates.
    public var inputs: [String: JSONValue] = [:]
}

/// What a step does; exactly one per step.
public enum StepKind: Sendable {
    case run(RunStep)
    case http(HTTPStep)
    /// Values (strings may hold templates) that become the step's output.
    case set([String: JSONValue])
    case foreach(ForeachStep)
    case sleep(SleepStep)
    case approval(ApprovalStep)
    case trigger(TriggerStep)
    case uses(UsesStep)
    /// End the run as failed with this message (a template).
    case fail(message: String)

    /// The key that selects this kind in YAML: "run", "http", ... (`exec` is "run").
    public var name: String {
        switch self {
        case .run: "run"
        case .http: "http"
        case .set: "set"
        case .foreach: "foreach"
        case .sleep: "sleep"
        case .approval: "approval"
        case .trigger: "trigger"
        case .uses: "uses"
        case .fail: "fail"
        }
    }
}

/// One step of a workflow.
public struct StepDefinition: Sendable {
    /// Unique across the whole workflow (handlers, fallbacks and foreach bodies too).
    /// Handler and fallback steps written without one get `on_failure-1`,
    /// `upload-fallback-1`, ...
    public var id: String
    public var name: String?
    public var kind: StepKind
    /// Step environment (run steps); values may hold templates.
    public var environment: [String: String] = [:]
    public var workingDirectory: String?
    /// Per-attempt deadline.
    public var timeout: Duration?
    /// The `if:` condition as written; nil means "only when no earlier step failed".
    public var condition: String?
    /// The step's own policy; nil means the workflow's `retry`, else one attempt.
    public var retry: RetryPolicy?
    /// Safe to re-run after a crash (default false).
    public var idempotent: Bool = false
    /// A failure of this step does not fail the run (default false).
    public var continueOnError: Bool = false
    /// Steps run when this one finally fails; their output replaces this step's.
    public var fallback: [StepDefinition] = []
    public var location: SourceLocation

    public init(id: String, kind: StepKind, location: SourceLocation) {
        self.id = id
        self.kind = kind
        self.location = location
    }

    /// The run/exec action when this is a run step, else nil.
    public var action: StepAction? {
        if case .run(let run) = kind { return run.action }
        return nil
    }

    /// Steps nested in this one: the fallback, then a foreach body.
    public var nestedSteps: [StepDefinition] {
        if case .foreach(let loop) = kind { return fallback + loop.steps }
        return fallback
    }
}
