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
    func runs(workflow: String?, status: String?, limit: Int) throws(SQLiteError) -> [JSONValue] {
        var conditions: [String] = []
        var arguments: [SQLiteValue] = []
        if let workflow { conditions.append("workflow = ?"); arguments.append(.text(workflow)) }
        if let status { conditions.append("status = ?"); arguments.append(.text(status)) }
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
                   started_at, ended_at, failed_step, error
            FROM runs WHERE id = ?
            """, [.integer(id)]) else { return nil }
        guard case .object(var run) = Self.runSummary(row) else { return nil }
        run["spool_path"] = row.string("spool_path").map(JSONValue.string) ?? .null
        run["payload"] = row.string("payload").flatMap { try? JSONValue.parse($0) } ?? .null
        run["attempts"] = .array(try connection.query("""
            SELECT step_index, step_id, attempt, status, started_at, ended_at, exit_code, signal,
                   stdout_tail, stderr_tail, stdout_bytes, stderr_bytes, error
            FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt
            """, [.integer(id)]).map(Self.attempt))
        return .object(run)
    }

    private static func time(_ row: SQLiteRow, _ column: String) -> JSONValue {
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
        .object([
            "step_index": .int(row.int("step_index") ?? 0),
            "step": .string(row.string("step_id") ?? ""),
            "attempt": .int(row.int("attempt") ?? 0),
            "status": .string(row.string("status") ?? ""),
            "started_at": time(row, "started_at"),
            "ended_at": time(row, "ended_at"),
            "duration_ms": durationMilliseconds(row, from: "started_at", to: "ended_at"),
            "exit_code": row.int("exit_code").map(JSONValue.int) ?? .null,
            "signal": row.int("signal").map(JSONValue.int) ?? .null,
            "stdout": .string(row.string("stdout_tail") ?? ""),
            "stderr": .string(row.string("stderr_tail") ?? ""),
            "stdout_bytes": .int(row.int("stdout_bytes") ?? 0),
            "stderr_bytes": .int(row.int("stderr_bytes") ?? 0),
            "error": row.string("error").map(JSONValue.string) ?? .null,
        ])
    }
}

extension JournalReader {
    /// Runs recorded as queued or running (left so by a previous daemon).
    func unfinishedRunIDs() throws(SQLiteError) -> [Int64] {
        try connection.query("SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY id").compactMap { $0.int("id") }
    }
}
