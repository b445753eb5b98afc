// MetricsExposition.swift: `flowadm metrics` in the Prometheus text exposition format
// (version 0.0.4), for node_exporter's textfile collector or any scraper.
//
// Every family has HELP and TYPE lines; label values are escaped (\\, \", \n). Run
// counts come from the journal (so they cover the retained history, hence gauges, not
// counters that would reset with retention).

import Foundation

enum MetricsExposition {
    static func render(snapshot: EngineSnapshot, runCounts: [(workflow: String, status: String, count: Int64)],
                       spool: (pending: [String: Int], rejected: Int)) -> String {
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples {
                let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                lines.append("\(name)\(labels) \(sample.value)")
            }
        }
        family("flowd_up", "gauge", "1 while flowd answers on its control socket.", [([], "1")])
        family("flowd_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.",
               [([], String(Double(snapshot.startedAt) / 1_000_000))])
        family("flowd_workers", "gauge", "Worker threads running step attempts.", [([], String(snapshot.workers))])
        family("flowd_workers_busy", "gauge", "Workers running a step attempt now.", [([], String(snapshot.busyWorkers))])
        family("flowd_runs_active", "gauge", "Runs in the engine now, by state.", [
            ([("state", "running")], String(snapshot.running)),
            ([("state", "queued")], String(snapshot.queued)),
            ([("state", "waiting")], String(snapshot.waiting)),
        ])
        family("flowd_workflows_loaded", "gauge", "Workflow definitions loaded.", [([], String(snapshot.workflows.count))])
        family("flowd_definition_errors", "gauge", "Definition files that failed to load.", [([], String(snapshot.definitionErrors.count))])
        family("flowd_journal_runs", "gauge", "Runs in the journal by workflow and status (retained history).",
               runCounts.map { ([("workflow", $0.workflow), ("status", $0.status)], String($0.count)) })
        family("flowd_runs_pruned_total", "counter", "Finished runs deleted by retention since the daemon started.",
               [([], String(snapshot.runsPruned))])
        family("flowd_spool_pending_files", "gauge", "Files waiting in incoming/ by workflow.",
               spool.pending.sorted { $0.key < $1.key }.map { ([("workflow", $0.key)], String($0.value)) })
        family("flowd_journal_writable", "gauge", "1 while the journal can be written; 0 while commits fail (full disk, read-only).",
               [([], snapshot.journal.isWritable ? "1" : "0")])
        family("flowd_spool_rejected_files", "gauge", "Files in rejected/.", [([], String(spool.rejected))])
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
