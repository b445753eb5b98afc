// EngineRetention.swift: when retention passes run and what they report.
//
// A timer on the engine loop starts a pass shortly after start (10 s, or
// `retention.interval` when shorter) and then every `retention.interval` after the
// previous pass ended. The pass itself runs on a thread of its own (RetentionPruner),
// so the loop never waits for SQL or unlinks; its report comes back to the loop, which
// logs one line when something was pruned and counts flowd_runs_pruned_total.

import Foundation

extension Engine {
    static let firstRetentionDelay = Duration.seconds(10)

    func startRetention() {
        retention = RetentionPruner(
            journal: journal, doneDirectory: paths.spoolDirectory + "/done",
            policy: .init(maxAge: configuration.retentionMaxAge, maxRunsPerWorkflow: configuration.retentionMaxRunsPerWorkflow))
        scheduleRetentionPass(after: min(Self.firstRetentionDelay, configuration.retentionInterval))
    }

    private func scheduleRetentionPass(after delay: Duration) {
        loop.schedule(after: delay) { [self] in
            guard phase == .running, let retention else { return }
            let thread = Thread { [self] in
                let report = retention.runPass()
                loop.execute { [self] in retentionPassEnded(report) }
            }
            thread.name = "flowd-retention"
            thread.start()
        }
    }

    private func retentionPassEnded(_ report: RetentionPruner.PassReport?) {
        if let report {
            if report.runs > 0 || report.files > 0 {
                let milliseconds = report.elapsed.milliseconds
                logger.log(.info, "retention pruned \(report.runs) run(s) and \(report.files) done/ file(s) in \(milliseconds) ms "
                    + "(\(report.batches) batch(es), longest \(report.longestBatch.milliseconds) ms)")
                statusBoard.update { $0.runsPruned += report.runs }
            }
            for problem in report.problems { logger.log(.error, problem) }
        }
        guard phase == .running else { return }
        scheduleRetentionPass(after: configuration.retentionInterval)
    }
}
