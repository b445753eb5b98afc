// JournalReader+Retention.swift: which finished runs retention may prune.
//
// Only finished runs (succeeded, failed, cancelled) are ever candidates; queued,
// running, waiting, paused and interrupted runs are never pruned and do not count
// toward `max_runs_per_workflow`. Per workflow the newest `max_runs_per_workflow`
// finished runs (by id) are kept; any finished run that ended before the age cutoff goes.
// Both queries name the partial indexes of the "retention" migration (INDEXED BY):
// without statistics SQLite would pick runs_by_status and scan every finished run per
// batch. With them a batch costs index lookups.

/// A run retention may delete, with the spool file its trigger left in done/ (if any).
struct PrunableRun: Sendable, Equatable {
    var id: Int64
    var spoolPath: String?
}

extension JournalReader {
    static let finishedStatuses = "status IN ('succeeded', 'failed', 'cancelled')"

    /// Up to `limit` finished runs past the limits, oldest first. `endedBefore` is the age
    /// cutoff (microseconds since the epoch); `keepPerWorkflow` the newest kept per workflow.
    func prunableRuns(endedBefore cutoff: Int64, keepPerWorkflow keep: Int, limit: Int) throws(SQLiteError) -> [PrunableRun] {
        precondition(keep >= 1 && limit >= 1, "retention keeps at least one run and prunes at least one per batch")
        var selected: [Int64: String?] = [:]
        for row in try connection.query("""
            SELECT id, spool_path FROM runs INDEXED BY runs_finished_by_end WHERE \(Self.finishedStatuses) AND ended_at < ? ORDER BY ended_at LIMIT ?
            """, [.integer(cutoff), .integer(Int64(limit))]) {
            if let id = row.int("id") { selected[id] = row.string("spool_path") }
        }
        var workflow = ""
        while selected.count < limit,
              let next = try connection.scalar("SELECT MIN(workflow) FROM runs WHERE workflow > ?", [.text(workflow)]).stringValue {
            workflow = next
            // The oldest run kept: the keep-th newest finished run of the workflow.
            guard let oldestKept = try connection.scalar("""
                SELECT id FROM runs INDEXED BY runs_finished_by_workflow WHERE workflow = ? AND \(Self.finishedStatuses) ORDER BY id DESC LIMIT 1 OFFSET ?
                """, [.text(workflow), .integer(Int64(keep - 1))]).intValue else { continue }
            for row in try connection.query("""
                SELECT id, spool_path FROM runs INDEXED BY runs_finished_by_workflow WHERE workflow = ? AND \(Self.finishedStatuses) AND id < ? ORDER BY id LIMIT ?
                """, [.text(workflow), .integer(oldestKept), .integer(Int64(limit - selected.count))]) {
                if let id = row.int("id") { selected[id] = row.string("spool_path") }
            }
        }
        return selected.map { PrunableRun(id: $0.key, spoolPath: $0.value) }.sorted { $0.id < $1.id }
    }

    /// The ids among `ids` that the journal holds a run for.
    func existingRunIDs(among ids: [Int64]) throws(SQLiteError) -> Set<Int64> {
        let list = JSONValue.array(ids.map(JSONValue.int)).serialized()
        return Set(try connection.query("SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?))", [.text(list)])
            .compactMap { $0.int("id") })
    }
}
