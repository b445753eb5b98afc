// ControlInterface.swift: the Varlink description of io.flowd.Control.
//
// Served by org.varlink.service.GetInterfaceDescription, so any Varlink client (the
// Python `varlink` package, varlinkctl) can discover and call the methods. Keep it in
// step with ControlService and docs/CONTROL.md; JSON field names are the stable API.

enum ControlInterface {
    static let name = "io.flowd.Control"

    static let description = """
        # Administration of the flowd workflow daemon.
        interface io.flowd.Control

        type RunTrigger (kind: string, name: ?string)

        type RunSummary (
          id: int,
          workflow: string,
          version: string,
          status: string,
          trigger: RunTrigger,
          created_at: string,
          started_at: ?string,
          ended_at: ?string,
          duration_ms: ?int,
          failed_step: ?string,
          error: ?string
        )

        type StepAttempt (
          step_index: int,
          step: string,
          attempt: int,
          status: string,
          started_at: string,
          ended_at: ?string,
          duration_ms: ?int,
          exit_code: ?int,
          signal: ?int,
          stdout: string,
          stderr: string,
          stdout_bytes: int,
          stderr_bytes: int,
          error: ?string
        )

        type RunDetails (
          id: int,
          workflow: string,
          version: string,
          status: string,
          trigger: RunTrigger,
          created_at: string,
          started_at: ?string,
          ended_at: ?string,
          duration_ms: ?int,
          failed_step: ?string,
          error: ?string,
          spool_path: ?string,
          payload: ?object,
          attempts: []StepAttempt
        )

        type Workflow (
          name: string,
          description: ?string,
          version: string,
          path: string,
          steps: int,
          triggers: []string,
          concurrency: int,
          errors: []string
        )

        type DefinitionProblem (path: string, errors: []string)

        type ConnectorInput (name: string, type: string, required: bool, default: ?object, description: ?string)

        type ConnectorCredential (name: string, required: bool, present: bool, problem: ?string)

        type ConnectorAction (
          name: string,
          description: ?string,
          kind: string,
          inputs: []ConnectorInput,
          credentials: []ConnectorCredential
        )

        type Connector (name: string, description: ?string, path: string, base_url: ?string, actions: []ConnectorAction)

        type DefinitionVersion (version: string, path: string, loaded_at: string)

        type Durations (min: ?int, avg: ?int, p95: ?int, max: ?int)

        type WorkflowStats (
          workflow: string,
          runs: int,
          succeeded: int,
          failed: int,
          success_rate: ?float,
          duration_ms: Durations,
          last_error: ?object,
          most_failing_step: ?object
        )

        type SpoolPending (workflow: string, files: int)

        type SpoolFile (workflow: string, file: string)

        type SpoolRejected (workflow: string, file: string, reason: string, rejected_at: string)

        # The daemon's state and counts.
        method GetStatus() -> (
          version: string,
          pid: int,
          phase: string,
          started_at: string,
          workers: int,
          busy_workers: int,
          running: int,
          queued: int,
          waiting: int,
          workflows: int,
          definition_errors: int,
          journal: JournalStatus
        )

        # Whether the journal can be written. While it cannot (a full disk, a read-only
        # state directory), `since` and `error` say since when and why, `retries` counts
        # the failed commits of the batch kept for retry; no new runs are taken meanwhile.
        type JournalStatus (writable: bool, since: ?string, error: ?string, retries: int)

        # Loaded workflows, and the definition files that failed to load.
        method ListWorkflows() -> (workflows: []Workflow, errors: []DefinitionProblem)

        # Connector manifests in force (shipped, then the admin's) and the files that failed;
        # credentials are names with whether they are loaded, never values.
        method ListConnectors() -> (connectors: []Connector, errors: []DefinitionProblem)

        # A loaded workflow and every version of it the journal has seen.
        method GetWorkflow(name: string) -> (workflow: ?Workflow, versions: []DefinitionVersion)

        # Runs, newest first; since is an RFC 3339 time (runs created at or after it).
        method ListRuns(workflow: ?string, status: ?string, since: ?string, limit: ?int) -> (runs: []RunSummary)

        # One run with all its step attempts.
        method GetRun(id: int) -> (run: RunDetails)

        # The output of a run's finished attempts. With follow (and "more"), further
        # replies carry each attempt as it finishes, until the run ends.
        method GetLogs(id: int, follow: ?bool) -> (entries: ?[]StepAttempt, status: ?string, event: ?object)

        # Live engine events (needs "more"); optionally one workflow's or one run's.
        method Watch(workflow: ?string, run: ?int) -> (event: object)

        # Outcomes and durations over the last `last` finished runs (default 1000).
        method GetStats(workflow: ?string, last: ?int) -> (workflows: []WorkflowStats, window: int)

        # Metrics in the Prometheus text exposition format.
        method GetMetrics() -> (text: string)

        # Spool files: pending per workflow, held, and rejected with their reasons.
        method ListSpool() -> (pending: []SpoolPending, held: []SpoolFile, rejected: []SpoolRejected)

        # Start a run by hand (admins, or the workflow's owners). With wait, the reply
        # comes when the run ends, with its final status.
        method Trigger(workflow: string, payload: ?object, wait: ?bool) -> (run: int, status: string)

        # Cancel a queued or running run: its step's process group gets SIGTERM, then
        # SIGKILL; on_cancel runs; the reply comes when the run has ended.
        method CancelRun(id: int) -> (run: int, status: string)

        # Pause a workflow: no new run starts, its spool files wait in incoming/ (kept
        # across restarts). Resume lets them go. Admins or the workflow's owners.
        method PauseWorkflow(name: string) -> ()
        method ResumeWorkflow(name: string) -> ()

        # Pause a run at its next step boundary (kill: stop the running step; it is tried
        # again on resume). Resume, optionally changing vars (set: {"vars.x": value})
        # for the steps that have not started.
        method PauseRun(id: int, kill: ?bool) -> ()
        method ResumeRun(id: int, set: ?object) -> ()

        # Approval steps waiting for an answer.
        method ListPrompts() -> (prompts: []object)

        # Answer a run's waiting approval step (its id may be given to be sure).
        method Approve(id: int, step: ?string, fields: ?object) -> ()
        method Reject(id: int, step: ?string, fields: ?object) -> ()

        # A new run replaying run `id`: its trigger payload and definition version (today's
        # with current), from a top-level step (earlier outcomes reused), with set changes
        # ({"payload.x": 1, "vars.y": "z"}). With wait, the reply comes when it ends.
        method Replay(id: int, from: ?string, set: ?object, current: ?bool, wait: ?bool) -> (run: int, status: string)

        # What differs between two runs: definition, payload, vars, first differing step.
        method Diff(a: int, b: int) -> (a: int, b: int, definition: object, payload: []object, vars: []object,
                                        first_differing_step: ?object, status: object)

        # An interrupted run's step (it was running when the daemon stopped and is not
        # idempotent) counts as succeeded with an empty output; the run goes on.
        method SkipStep(id: int, step: string) -> ()

        # Spool files: hold (incoming/ → hold/), release (hold/ → incoming/), requeue
        # (rejected/ → incoming/), delete (a held or rejected file). Admins only.
        method ManageSpoolFile(action: string, workflow: string, file: string) -> ()

        # Re-read the workflow definitions (as SIGHUP does). Admins only.
        method Reload() -> (workflows: int, definition_errors: int)

        # No such run, workflow or step.
        error NotFound (kind: string, name: string)

        # The caller's uid and groups do not allow this method.
        error PermissionDenied (message: string)

        # The request does not fit the run's or workflow's state (not paused, not waiting
        # for an approval, a field that fails validation, ...).
        error InvalidState (message: string)

        # The run has already ended.
        error RunEnded (message: string)

        # flowd takes no new runs: it is stopping, or its journal is not writable.
        error NotAccepting (message: string)

        # The journal could not be read.
        error JournalError (message: string)
        """
}
