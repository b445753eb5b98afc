// JournalReader+Processes.swift: the step processes a previous daemon left running.

/// A step attempt recorded as running, with the process it spawned.
struct RecordedProcess: Sendable, Equatable {
    var runID: Int64
    var stepIndex: Int
    var attempt: Int
    var stepID: String
    var pid: Int32
    /// /proc/PID/stat field 22 when it was spawned (guards against a reused pid).
    var startTime: UInt64
}

extension JournalReader {
    /// Attempts of unfinished runs still recorded as running that journaled a process.
    func runningAttemptProcesses() throws(SQLiteError) -> [RecordedProcess] {
        try connection.query("""
            SELECT run_id, step_index, attempt, step_id, pid, pid_start_time FROM step_attempts
            WHERE run_id IN (SELECT id FROM runs WHERE status IN ('queued', 'running', 'waiting', 'paused', 'interrupted'))
              AND status = 'running' AND pid IS NOT NULL AND pid_start_time IS NOT NULL
            ORDER BY run_id, step_index, attempt
            """).compactMap { row in
            guard let runID = row.int("run_id"), let pid = row.int("pid"), let start = row.int("pid_start_time") else { return nil }
            return RecordedProcess(runID: runID, stepIndex: Int(row.int("step_index") ?? 0), attempt: Int(row.int("attempt") ?? 0),
                                   stepID: row.string("step_id") ?? "", pid: Int32(truncatingIfNeeded: pid),
                                   startTime: UInt64(bitPattern: start))
        }
    }
}
