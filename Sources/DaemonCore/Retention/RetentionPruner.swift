// RetentionPruner.swift: deletes finished runs past `retention.*`, their rows and their
// done/ files, in small batches through the journal's one writer (SPEC 5).
//
// A pass runs on its own thread, never on the engine loop: it selects up to
// `batchSize` prunable runs with its own read-only connection (JournalReader+Retention),
// submits one `runsPruned` write and waits for its commit before the next batch, so
// engine writes queued meanwhile go into the writer's next transactions and no
// transaction holds more than one batch. After a commit the runs' files in done/ are
// unlinked. Then done/ is swept: a file whose run the journal no longer has goes, and a
// file whose name carries no run id goes once it is older than `max_age`. Nothing
// outside done/ is ever deleted (incoming/, active/, rejected/ and hold/ are the
// user's or the engine's). Failures (a journal error, an unlink refused) end the pass
// and are reported in its PassReport; the next pass tries again.

import Dispatch
import Synchronization

/// Prunes the journal and done/ per the retention settings.
final class RetentionPruner: Sendable {
    struct Policy: Sendable {
        var maxAge: Duration
        var maxRunsPerWorkflow: Int
        /// Runs deleted per write transaction.
        var batchSize = 500
    }

    /// What one pass did.
    struct PassReport: Sendable {
        var runs = 0
        var files = 0
        var batches = 0
        /// The longest wait from submitting a batch to its commit.
        var longestBatch: Duration = .zero
        /// The sum of those waits (the rest of `elapsed` is selection and unlinks).
        var batchTime: Duration = .zero
        var elapsed: Duration = .zero
        var problems: [String] = []
    }

    private enum State { case idle, passing, stopped }

    let journal: RunJournal
    let doneDirectory: String
    let policy: Policy
    /// Guards the pass state; `stop` waits on it for a pass to end.
    private let state = Mutex(State.idle)
    private let passEnded = DispatchSemaphore(value: 0)

    init(journal: RunJournal, doneDirectory: String, policy: Policy) {
        precondition(policy.maxRunsPerWorkflow >= 1 && policy.batchSize >= 1, "retention must keep a run and prune in batches")
        self.journal = journal
        self.doneDirectory = doneDirectory
        self.policy = policy
    }

    private var isStopped: Bool { state.withLock { $0 == .stopped } }

    /// Runs one pass on the calling thread (not the engine loop: it waits for commits).
    /// Returns nil when a pass is already running or the pruner is stopped.
    func runPass(now: Int64 = WallClock.nowMicroseconds()) -> PassReport? {
        let began = state.withLock { current -> Bool in
            guard current == .idle else { return false }
            current = .passing
            return true
        }
        guard began else { return nil }
        let started = ContinuousClock.now
        var report = PassReport()
        do {
            let reader = try JournalReader(path: journal.path)
            pruneRuns(reader, now: now, into: &report)
            if report.problems.isEmpty { sweepDone(reader, now: now, into: &report) }
        } catch {
            report.problems.append("retention could not read the journal: \(error)")
        }
        report.elapsed = ContinuousClock.now - started
        let stopping = state.withLock { current -> Bool in
            if current == .stopped { return true }
            current = .idle
            return false
        }
        if stopping { passEnded.signal() }
        return report
    }

    /// No batch starts after this; waits for a running pass to end (one batch at most).
    func stop() {
        let wasPassing = state.withLock { current -> Bool in
            defer { current = .stopped }
            return current == .passing
        }
        if wasPassing { passEnded.wait() }
    }

    private func pruneRuns(_ reader: JournalReader, now: Int64, into report: inout PassReport) {
        let cutoff = now - policy.maxAge.milliseconds * 1000
        while !isStopped {
            let batch: [PrunableRun]
            do {
                batch = try reader.prunableRuns(endedBefore: cutoff, keepPerWorkflow: policy.maxRunsPerWorkflow, limit: policy.batchSize)
            } catch {
                report.problems.append("retention could not select runs: \(error)")
                return
            }
            guard !batch.isEmpty else { return }
            let submitted = ContinuousClock.now
            if let problem = commit(.runsPruned(ids: batch.map(\.id))) {
                report.problems.append("retention could not delete \(batch.count) run(s): \(problem)")
                return
            }
            let batchTime = ContinuousClock.now - submitted
            report.longestBatch = max(report.longestBatch, batchTime)
            report.batchTime += batchTime
            report.batches += 1
            report.runs += batch.count
            // Only the run's own file (done/WF/ID.NAME): a replay records its original's
            // file as its trigger file, which stays with the original.
            for run in batch {
                guard let path = run.spoolPath, isInDone(path),
                      path.split(separator: "/").last?.hasPrefix("\(run.id).") == true else { continue }
                remove(path, into: &report)
            }
            if batch.count < policy.batchSize { return }
        }
    }

    /// Submits one write and waits for its commit; returns the error text on failure.
    private func commit(_ write: JournalWrite) -> String? {
        let outcome = CommitOutcome()
        journal.submit([write]) { result in
            if case .failure(let error) = result { outcome.problem.withLock { $0 = "\(error)" } }
            outcome.committed.signal()
        }
        outcome.committed.wait()
        return outcome.problem.withLock { $0 }
    }

    /// Shared by a waiting pass and the writer's completion.
    private final class CommitOutcome: Sendable {
        let problem = Mutex<String?>(nil)
        let committed = DispatchSemaphore(value: 0)
    }

    /// done/<workflow>/<run>.<name>[.<n>]: files whose run is gone, or nameless old ones.
    private func sweepDone(_ reader: JournalReader, now: Int64, into report: inout PassReport) {
        let cutoffSeconds = Double(now - policy.maxAge.milliseconds * 1000) / 1_000_000
        for workflow in (try? FileSystem.entries(doneDirectory)) ?? [] where !isStopped {
            let directory = doneDirectory + "/" + workflow
            guard (try? FileSystem.status(directory))?.kind == .directory else { continue }
            // List first, then ask the journal: a file moved here after the listing is not
            // looked at, and every listed file's run was committed before its move.
            let names = (try? FileSystem.entries(directory)) ?? []
            var byRun: [(name: String, run: Int64)] = []
            for name in names {
                if let run = SpoolDirectory.runID(inFileName: name) {
                    byRun.append((name, run))
                } else if let status = try? FileSystem.status(directory + "/" + name), status.kind == .regular,
                          status.modificationTime < cutoffSeconds {
                    remove(directory + "/" + name, into: &report)
                }
            }
            for chunkStart in stride(from: 0, to: byRun.count, by: 1000) {
                let chunk = byRun[chunkStart..<min(byRun.count, chunkStart + 1000)]
                let existing: Set<Int64>
                do {
                    existing = try reader.existingRunIDs(among: chunk.map(\.run))
                } catch {
                    report.problems.append("retention could not check done/ files: \(error)")
                    return
                }
                for file in chunk where !existing.contains(file.run) {
                    remove(directory + "/" + file.name, into: &report)
                }
            }
        }
    }

    private func isInDone(_ path: String) -> Bool {
        path.hasPrefix(doneDirectory + "/") && !path.contains("/../")
    }

    private func remove(_ path: String, into report: inout PassReport) {
        guard (try? FileSystem.status(path)) != nil else { return }  // already gone: nothing to count
        do {
            try FileSystem.removeFile(path)
            report.files += 1
        } catch {
            report.problems.append("retention could not delete \(path): \(error)")
        }
    }
}
