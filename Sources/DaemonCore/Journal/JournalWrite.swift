// JournalWrite.swift: the closed set of changes the engine makes to the journal.
//
// The engine describes what happened; RunJournal's writer thread turns each case into
// SQL inside a group-commit transaction. Keeping the set closed keeps every write the
// daemon can make in one place.

/// A run as recorded when it is created.
public struct RunRecord: Sendable {
    public var id: Int64
    public var workflow: String
    public var definitionHash: String
    public var triggerKind: String
    public var triggerName: String?
    public var spoolPath: String?
    public var payload: JSONValue
    public var createdAt: Int64
    public var vars: JSONValue = .object([:])
    public var parentRun: Int64?
    public var replayOf: Int64?
}

/// How a step attempt ended.
public struct AttemptEnd: Sendable {
    public var runID: Int64
    public var stepIndex: Int
    public var attempt: Int
    public var status: String
    public var endedAt: Int64
    public var exitCode: Int32?
    public var signal: Int32?
    public var standardOutput: String
    public var standardError: String
    public var standardOutputBytes: Int
    public var standardErrorBytes: Int
    public var error: String?
    public var output: JSONValue = .null
    /// Why another attempt follows ("exit 1; attempt 2 of 3 in 2s"), or why not.
    public var retryReason: String?
    /// True when the retry policy allowed another attempt (an expected retry).
    public var retryExpected: Bool?
}

/// Something that happened to a run or to the daemon, with who made it happen.
public struct RunEvent: Sendable {
    public var at: Int64
    public var runID: Int64?
    public var workflow: String?
    public var kind: String
    public var uid: UInt32?
    public var pid: Int32?
    public var details: JSONValue

    public init(at: Int64 = WallClock.nowMicroseconds(), runID: Int64? = nil, workflow: String? = nil, kind: String,
                uid: UInt32? = nil, pid: Int32? = nil, details: JSONValue = .null) {
        self.at = at; self.runID = runID; self.workflow = workflow; self.kind = kind
        self.uid = uid; self.pid = pid; self.details = details
    }
}

/// One change to the journal.
public enum JournalWrite: Sendable {
    case definitionLoaded(hash: String, workflow: String, canonical: String, sourcePath: String, source: String?, at: Int64)
    case runCreated(RunRecord)
    case runStarted(runID: Int64, at: Int64)
    /// running ⇄ waiting (sleep, approval) ⇄ paused.
    case runStatus(runID: Int64, status: String)
    /// A workflow paused (true) or resumed (false), kept across restarts.
    case workflowPaused(workflow: String, paused: Bool, at: Int64)
    case runFinished(runID: Int64, status: String, at: Int64, failedStep: String?, error: String?)
    case runSpoolPath(runID: Int64, path: String?)
    case attemptStarted(runID: Int64, stepIndex: Int, stepID: String, attempt: Int, at: Int64, kind: String, input: JSONValue, wakeAt: Int64?)
    case attemptFinished(AttemptEnd)
    /// An event in a run's or the daemon's story: an admin action with who asked.
    case event(RunEvent)
    /// A schedule fired for `slot` (Unix seconds): never again for that slot or earlier.
    case scheduleFired(workflow: String, schedule: String, slot: Int64)
    /// Marks attempts still recorded as running as interrupted (their process is gone).
    case runningAttemptsInterrupted(runID: Int64, at: Int64)
    /// Retention: deletes these runs with their attempts and events; a run that is not
    /// finished (succeeded, failed, cancelled) is left alone whatever the caller thought.
    case runsPruned(ids: [Int64])
    /// A step attempt's process was spawned: its pid (also its process group) and its
    /// start time from /proc/PID/stat, so a restart after a crash can find it again.
    case attemptProcess(runID: Int64, stepIndex: Int, attempt: Int, pid: Int32, startTime: UInt64)
    /// The attempt ran for item `item` of a parallel foreach (recovery maps it back).
    case attemptItem(runID: Int64, stepIndex: Int, attempt: Int, item: Int)

    func apply(to connection: SQLiteConnection) throws(SQLiteError) {
        switch self {
        case .definitionLoaded(let hash, let workflow, let canonical, let sourcePath, let source, let at):
            try connection.execute(
                "INSERT OR IGNORE INTO definitions (hash, workflow, canonical, source_path, loaded_at, source) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(hash), .text(workflow), .text(canonical), .text(sourcePath), .integer(at), SQLiteValue(source)])
        case .runCreated(let run):
            try connection.execute("""
                INSERT INTO runs (id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, payload, created_at,
                                  vars, parent_run, replay_of)
                VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.integer(run.id), .text(run.workflow), .text(run.definitionHash), .text(run.triggerKind),
                 SQLiteValue(run.triggerName), SQLiteValue(run.spoolPath), .text(run.payload.serialized()), .integer(run.createdAt),
                 .text(run.vars.serialized()), SQLiteValue(run.parentRun), SQLiteValue(run.replayOf)])
        case .runStarted(let runID, let at):
            try connection.execute("UPDATE runs SET status = 'running', started_at = ? WHERE id = ?", [.integer(at), .integer(runID)])
        case .runStatus(let runID, let status):
            try connection.execute("UPDATE runs SET status = ? WHERE id = ?", [.text(status), .integer(runID)])
        case .workflowPaused(let workflow, let paused, let at):
            if paused {
                try connection.execute("INSERT OR REPLACE INTO paused_workflows (workflow, paused_at) VALUES (?, ?)",
                                       [.text(workflow), .integer(at)])
            } else {
                try connection.execute("DELETE FROM paused_workflows WHERE workflow = ?", [.text(workflow)])
            }
        case .runFinished(let runID, let status, let at, let failedStep, let error):
            try connection.execute("UPDATE runs SET status = ?, ended_at = ?, failed_step = ?, error = ? WHERE id = ?",
                                   [.text(status), .integer(at), SQLiteValue(failedStep), SQLiteValue(error), .integer(runID)])
        case .runSpoolPath(let runID, let path):
            try connection.execute("UPDATE runs SET spool_path = ? WHERE id = ?", [SQLiteValue(path), .integer(runID)])
        case .attemptStarted(let runID, let stepIndex, let stepID, let attempt, let at, let kind, let input, let wakeAt):
            try connection.execute("""
                INSERT INTO step_attempts (run_id, step_index, step_id, attempt, status, started_at, kind, input, wake_at)
                VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)
                """, [.integer(runID), .integer(Int64(stepIndex)), .text(stepID), .integer(Int64(attempt)), .integer(at),
                       .text(kind), .text(input.serialized()), SQLiteValue(wakeAt)])
        case .attemptFinished(let end):
            try connection.execute("""
                UPDATE step_attempts SET status = ?, ended_at = ?, exit_code = ?, signal = ?, stdout_tail = ?, stderr_tail = ?,
                    stdout_bytes = ?, stderr_bytes = ?, error = ?, output = ?, retry_reason = ?, retry_expected = ?
                WHERE run_id = ? AND step_index = ? AND attempt = ?
                """,
                [.text(end.status), .integer(end.endedAt), SQLiteValue(end.exitCode.map(Int64.init)), SQLiteValue(end.signal.map(Int64.init)),
                 .text(end.standardOutput), .text(end.standardError), .integer(Int64(end.standardOutputBytes)),
                 .integer(Int64(end.standardErrorBytes)), SQLiteValue(end.error), .text(end.output.serialized()),
                 SQLiteValue(end.retryReason), SQLiteValue(end.retryExpected),
                 .integer(end.runID), .integer(Int64(end.stepIndex)), .integer(Int64(end.attempt))])
        case .event(let event):
            try connection.execute(
                "INSERT INTO run_events (at, run_id, workflow, kind, uid, pid, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.integer(event.at), SQLiteValue(event.runID), SQLiteValue(event.workflow), .text(event.kind),
                 SQLiteValue(event.uid.map(Int64.init)), SQLiteValue(event.pid.map(Int64.init)), .text(event.details.serialized())])
        case .scheduleFired(let workflow, let schedule, let slot):
            try connection.execute(
                "INSERT OR REPLACE INTO schedule_slots (workflow, schedule, last_slot) VALUES (?, ?, ?)",
                [.text(workflow), .text(schedule), .integer(slot)])
        case .runningAttemptsInterrupted(let runID, let at):
            try connection.execute("""
                UPDATE step_attempts SET status = 'interrupted', ended_at = ?, error = 'the daemon stopped during this attempt'
                WHERE run_id = ? AND status = 'running'
                """, [.integer(at), .integer(runID)])
        case .attemptProcess(let runID, let stepIndex, let attempt, let pid, let startTime):
            try connection.execute("""
                UPDATE step_attempts SET pid = ?, pid_start_time = ? WHERE run_id = ? AND step_index = ? AND attempt = ?
                """, [.integer(Int64(pid)), .integer(Int64(bitPattern: startTime)), .integer(runID), .integer(Int64(stepIndex)),
                       .integer(Int64(attempt))])
        case .runsPruned(let ids):
            // One JSON array parameter keeps each statement cached whatever the batch size.
            let list = JSONValue.array(ids.map(JSONValue.int)).serialized()
            let finished = "SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('succeeded', 'failed', 'cancelled')"
            try connection.execute("DELETE FROM step_attempts WHERE run_id IN (\(finished))", [.text(list)])
            try connection.execute("DELETE FROM run_events WHERE run_id IN (\(finished))", [.text(list)])
            try connection.execute("DELETE FROM runs WHERE id IN (\(finished))", [.text(list)])
        case .attemptItem(let runID, let stepIndex, let attempt, let item):
            try connection.execute("UPDATE step_attempts SET item = ? WHERE run_id = ? AND step_index = ? AND attempt = ?",
                                   [.integer(Int64(item)), .integer(runID), .integer(Int64(stepIndex)), .integer(Int64(attempt))])
        }
    }
}
