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

        type Trigger (kind: string, name: ?string)

        type RunSummary (
          id: int,
          workflow: string,
          version: string,
          status: string,
          trigger: Trigger,
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
          trigger: Trigger,
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
          definition_errors: int
        )

        # Loaded workflows, and the definition files that failed to load.
        method ListWorkflows() -> (workflows: []Workflow, errors: []DefinitionProblem)

        # Runs, newest first.
        method ListRuns(workflow: ?string, status: ?string, limit: ?int) -> (runs: []RunSummary)

        # One run with all its step attempts.
        method GetRun(id: int) -> (run: RunDetails)

        # No such run, workflow or step.
        error NotFound (kind: string, name: string)

        # The journal could not be read.
        error JournalError (message: string)
        """
}
