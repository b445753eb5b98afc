// JournalReader.swift: the queries behind `flowadm runs` and `flowadm show`.
//
// A reader owns its own read-only connection (WAL lets it read while the writer
// commits) and is used from one thread: the control server's. It returns JSONValue in
// the shape of the control API (docs/CONTROL.md), timestamps as RFC 3339 UTC text.

/// Read-only queries over the journal.
final class JournalReader {
    let connection: SQLiteConnection

    init(path: String) throws(SQLiteError) {
        var options = SQLiteOptions()
        options.readOnly = true
        options.create = false
        connection = try SQLiteConnection(path: path, options: options)
    }

    /// Runs, newest first, filtered by workflow and status.
    func runs(workflow: String?, status: String?, since: Int64? = nil, limit: Int) throws(SQLiteError) -> [JSONValue] {
        var conditions: [String] = []
        var arguments: [SQLiteValue] = []
        if let workflow { conditions.append("workflow = ?"); arguments.append(.text(workflow)) }
        if let status { conditions.append("status = ?"); arguments.append(.text(status)) }
        if let since { conditions.append("created_at >= ?"); arguments.append(.integer(since)) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(.integer(Int64(limit)))
        return try connection.query("""
            SELECT id, workflow, definition_hash, status, trigger_kind, trigger_name, created_at, started_at, ended_at,
                   failed_step, error
            FROM runs \(filter) ORDER BY id DESC LIMIT ?
            """, arguments).map(Self.runSummary)
    }

    /// One run with its payload and every step attempt, or nil when there is no such run.
    func run(id: Int64) throws(SQLiteError) -> JSONValue? {
        guard let row = try connection.queryRow("""
            SELECT id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, payload, created_at,
                   started_at, ended_at, failed_step, error, vars, parent_run, replay_of
            FROM runs WHERE id = ?
            """, [.integer(id)]) else { return nil }
        guard case .object(var run) = Self.runSummary(row) else { return nil }
        run["spool_path"] = row.string("spool_path").map(JSONValue.string) ?? .null
        run["payload"] = row.string("payload").flatMap { try? JSONValue.parse($0) } ?? .null
        run["vars"] = row.string("vars").flatMap { try? JSONValue.parse($0) } ?? .null
        run["parent_run"] = row.int("parent_run").map(JSONValue.int) ?? .null
        run["replay_of"] = row.int("replay_of").map(JSONValue.int) ?? .null
        run["attempts"] = .array(try connection.query("""
            SELECT step_index, step_id, attempt, status, started_at, ended_at, exit_code, signal,
                   stdout_tail, stderr_tail, stdout_bytes, stderr_bytes, error, kind, input, output, retry_reason, retry_expected, item
            FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt
            """, [.integer(id)]).map(Self.attempt))
        return .object(run)
    }

    static func time(_ row: SQLiteRow, _ column: String) -> JSONValue {
        row.int(column).map { .string(WallClock.rfc3339(microseconds: $0)) } ?? .null
    }

    private static func durationMilliseconds(_ row: SQLiteRow, from: String, to: String) -> JSONValue {
        guard let start = row.int(from), let end = row.int(to) else { return .null }
        return .int((end - start) / 1000)
    }

    private static func runSummary(_ row: SQLiteRow) -> JSONValue {
        .object([
            "id": .int(row.int("id") ?? 0),
            "workflow": .string(row.string("workflow") ?? ""),
            "version": .string(row.string("definition_hash") ?? ""),
            "status": .string(row.string("status") ?? ""),
            "trigger": .object([
                "kind": .string(row.string("trigger_kind") ?? ""),
                "name": row.string("trigger_name").map(JSONValue.string) ?? .null,
            ]),
            "created_at": time(row, "created_at"),
            "started_at": time(row, "started_at"),
            "ended_at": time(row, "ended_at"),
            "duration_ms": durationMilliseconds(row, from: "started_at", to: "ended_at"),
            "failed_step": row.string("failed_step").map(JSONValue.string) ?? .null,
            "error": row.string("error").map(JSONValue.string) ?? .null,
        ])
    }

    private static func attempt(_ row: SQLiteRow) -> JSONValue {
        func text(_ column: String) -> JSONValue { row.string(column).map(JSONValue.string) ?? .null }
        func integer(_ column: String) -> JSONValue { row.int(column).map(JSONValue.int) ?? .null }
        func json(_ column: String) -> JSONValue { row.string(column).flatMap { try? JSONValue.parse($0) } ?? .null }
        var attempt: [String: JSONValue] = [:]
        attempt["step_index"] = .int(row.int("step_index") ?? 0)
        attempt["step"] = .string(row.string("step_id") ?? "")
        attempt["attempt"] = .int(row.int("attempt") ?? 0)
        attempt["status"] = .string(row.string("status") ?? "")
        attempt["started_at"] = time(row, "started_at")
        attempt["ended_at"] = time(row, "ended_at")
        attempt["duration_ms"] = durationMilliseconds(row, from: "started_at", to: "ended_at")
        attempt["exit_code"] = integer("exit_code")
        attempt["signal"] = integer("signal")
        attempt["stdout"] = .string(row.string("stdout_tail") ?? "")
        attempt["stderr"] = .string(row.string("stderr_tail") ?? "")
        attempt["stdout_bytes"] = .int(row.int("stdout_bytes") ?? 0)
        attempt["stderr_bytes"] = .int(row.int("stderr_bytes") ?? 0)
        attempt["error"] = text("error")
        attempt["kind"] = text("kind")
        attempt["input"] = json("input")
        attempt["output"] = json("output")
        attempt["retry_reason"] = text("retry_reason")
        attempt["retry_expected"] = row.int("retry_expected").map { .bool($0 != 0) } ?? .null
        if let item = row.int("item") { attempt["item"] = .int(item) }  // a parallel foreach item's attempt
        return .object(attempt)
    }
}

extension JournalReader {
    /// Runs recorded as queued or running (left so by a previous daemon).
    func unfinishedRunIDs() throws(SQLiteError) -> [Int64] {
        try connection.query("SELECT id FROM runs WHERE status IN ('queued', 'running', 'waiting', 'paused') ORDER BY id")
            .compactMap { $0.int("id") }
    }
}

extension JournalReader {
    /// Every version of a workflow ever loaded, newest first.
    func definitionVersions(workflow: String) throws(SQLiteError) -> [JSONValue] {
        try connection.query("""
            SELECT hash, source_path, loaded_at FROM definitions WHERE workflow = ? ORDER BY loaded_at DESC
            """, [.text(workflow)]).map { row in
            .object(["version": .string(row.string("hash") ?? ""), "path": .string(row.string("source_path") ?? ""),
                     "loaded_at": Self.time(row, "loaded_at")])
        }
    }

    /// Runs per workflow and status, for metrics.
    func runCounts() throws(SQLiteError) -> [(workflow: String, status: String, count: Int64)] {
        try connection.query("SELECT workflow, status, COUNT(*) AS count FROM runs GROUP BY workflow, status ORDER BY workflow, status")
            .map { ($0.string("workflow") ?? "", $0.string("status") ?? "", $0.int("count") ?? 0) }
    }

    /// Outcome and duration figures over the last `window` finished runs of a workflow.
    func statistics(workflow: String, window: Int) throws(SQLiteError) -> JSONValue {
        let rows = try connection.query("""
            SELECT status, started_at, ended_at, failed_step, error, id FROM runs
            WHERE workflow = ? AND ended_at IS NOT NULL ORDER BY id DESC LIMIT ?
            """, [.text(workflow), .integer(Int64(window))])
        let succeeded = rows.filter { $0.string("status") == "succeeded" }.count
        let failed = rows.filter { $0.string("status") == "failed" }.count
        let durations = rows.compactMap { row -> Int64? in
            guard let start = row.int("started_at"), let end = row.int("ended_at") else { return nil }
            return (end - start) / 1000
        }.sorted()
        var failingSteps: [String: Int] = [:]
        for row in rows { if let step = row.string("failed_step") { failingSteps[step, default: 0] += 1 } }
        let mostFailing = failingSteps.max { ($0.value, $1.key) < ($1.value, $0.key) }
        let lastFailure = rows.first { $0.string("status") == "failed" }
        func duration(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
        let p95Index = durations.isEmpty ? nil : min(durations.count - 1, Int((Double(durations.count) * 0.95).rounded(.up)) - 1)
        return .object([
            "workflow": .string(workflow),
            "runs": .int(Int64(rows.count)),
            "succeeded": .int(Int64(succeeded)),
            "failed": .int(Int64(failed)),
            "success_rate": rows.isEmpty ? .null : .double(Double(succeeded) / Double(rows.count)),
            "duration_ms": .object([
                "min": duration(durations.first),
                "avg": durations.isEmpty ? .null : .int(durations.reduce(0, +) / Int64(durations.count)),
                "p95": duration(p95Index.map { durations[max(0, $0)] }),
                "max": duration(durations.last),
            ]),
            "last_error": lastFailure.map { row in
                .object(["run": .int(row.int("id") ?? 0), "step": row.string("failed_step").map(JSONValue.string) ?? .null,
                         "error": row.string("error").map(JSONValue.string) ?? .null, "ended_at": Self.time(row, "ended_at")])
            } ?? .null,
            "most_failing_step": mostFailing.map { .object(["step": .string($0.key), "failures": .int(Int64($0.value))]) } ?? .null,
        ])
    }
}

extension JournalReader {
    /// The last slot each schedule fired for, keyed by workflow and canonical schedule text.
    func scheduleSlots() throws(SQLiteError) -> [ScheduleKey: Int64] {
        var slots: [ScheduleKey: Int64] = [:]
        for row in try connection.query("SELECT workflow, schedule, last_slot FROM schedule_slots") {
            slots[ScheduleKey(workflow: row.string("workflow") ?? "", schedule: row.string("schedule") ?? "")] = row.int("last_slot")
        }
        return slots
    }
}

extension JournalReader {
    func pausedWorkflows() throws(SQLiteError) -> Set<String> {
        Set(try connection.query("SELECT workflow FROM paused_workflows").compactMap { $0.string("workflow") })
    }
}

extension JournalReader {
    /// A definition version's source text and canonical JSON, when recorded.
    func definition(hash: String) throws(SQLiteError) -> (source: String?, canonical: JSONValue)? {
        guard let row = try connection.queryRow("SELECT source, canonical FROM definitions WHERE hash = ?", [.text(hash)]) else { return nil }
        return (row.string("source"), row.string("canonical").flatMap { try? JSONValue.parse($0) } ?? .null)
    }
}

/// One step execution of a run as the journal recorded it (all its attempts).
struct RecordedStep: Sendable {
    var sequence: Int
    var stepID: String
    var kind: String
    var attempts: Int
    var status: String
    var finished: Bool
    var output: JSONValue
    var exitCode: Int32?
    var error: String?
    var retryExpected: Bool
    var wakeAt: Int64?
    /// The item of a parallel foreach this step ran for (nil outside parallel items).
    var item: Int?
}

/// A run a previous daemon left unfinished, as recorded.
struct RecordedRun: Sendable {
    var id: Int64
    var workflow: String
    var version: String
    var status: String
    var triggerKind: String
    var triggerName: String?
    var spoolPath: String?
    var payload: JSONValue
    var vars: [String: JSONValue]
    var parentRun: Int64?
    var replayOf: Int64?
    var startedAt: Int64?
    var steps: [RecordedStep]
    /// The `--set` change sets of `flowadm resume RUN`, oldest first.
    var resumeChanges: [[String: JSONValue]] = []
}

extension JournalReader {
    /// Runs left queued, running, waiting, paused or interrupted, with their steps.
    func unfinishedRuns() throws(SQLiteError) -> [RecordedRun] {
        try connection.query("""
            SELECT id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, payload, vars, parent_run,
                   replay_of, started_at
            FROM runs WHERE status IN ('queued', 'running', 'waiting', 'paused', 'interrupted') ORDER BY id
            """).map { row throws(SQLiteError) in
            let id = row.int("id") ?? 0
            var steps: [RecordedStep] = []
            for attempt in try connection.query("""
                SELECT step_index, step_id, kind, attempt, status, ended_at, output, exit_code, error, retry_expected, wake_at, item
                FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt
                """, [.integer(id)]) {
                let step = RecordedStep(
                    sequence: Int(attempt.int("step_index") ?? 0), stepID: attempt.string("step_id") ?? "",
                    kind: attempt.string("kind") ?? "", attempts: Int(attempt.int("attempt") ?? 1),
                    status: attempt.string("status") ?? "", finished: attempt.int("ended_at") != nil,
                    output: attempt.string("output").flatMap { try? JSONValue.parse($0) } ?? .null,
                    exitCode: attempt.int("exit_code").map { Int32(truncatingIfNeeded: $0) }, error: attempt.string("error"),
                    retryExpected: attempt.int("retry_expected") == 1, wakeAt: attempt.int("wake_at"),
                    item: attempt.int("item").map { Int($0) })
                if steps.last?.sequence == step.sequence { steps[steps.count - 1] = step } else { steps.append(step) }
            }
            let resumeChanges = try connection.query(
                "SELECT details FROM run_events WHERE run_id = ? AND kind = 'resume_run' ORDER BY id", [.integer(id)]
            ).compactMap { event in event.string("details").flatMap { try? JSONValue.parse($0) }?["set"]?.objectValue }
            return RecordedRun(
                id: id, workflow: row.string("workflow") ?? "", version: row.string("definition_hash") ?? "",
                status: row.string("status") ?? "", triggerKind: row.string("trigger_kind") ?? "",
                triggerName: row.string("trigger_name"), spoolPath: row.string("spool_path"),
                payload: row.string("payload").flatMap { try? JSONValue.parse($0) } ?? .null,
                vars: row.string("vars").flatMap { try? JSONValue.parse($0) }?.objectValue ?? [:],
                parentRun: row.int("parent_run"), replayOf: row.int("replay_of"), startedAt: row.int("started_at"), steps: steps,
                resumeChanges: resumeChanges.filter { !$0.isEmpty })
        }
    }

    /// The status of run `id`, or nil when the journal has no such run.
    func runStatus(id: Int64) throws(SQLiteError) -> String? {
        try connection.queryRow("SELECT status FROM runs WHERE id = ?", [.integer(id)])?.string("status")
    }
}
