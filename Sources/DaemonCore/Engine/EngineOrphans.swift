// EngineOrphans.swift: step processes that outlive a crashed daemon.
//
// Right after a step's process is spawned its pid (also its process group id) and its
// start time (/proc/PID/stat field 22) are journaled (with the next commit, at most
// RunJournal.deferredDelay later: a crash inside that window leaves the process
// unknown, as one whose leader already exited). After a kill -9 of flowd the
// group keeps running; at the next start, before the recovery rules of SPEC 5 apply,
// every attempt still recorded as running whose process is still there with the same
// start time (so not a reused pid) gets its whole group stopped: SIGTERM, then SIGKILL
// after `orphanGrace` for every member of the group still running then. This happens before the engine accepts work, so
// an idempotent step re-run never overlaps its previous attempt. Start waits at most
// the grace, and only when an orphan ignores SIGTERM.

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    static let orphanGrace = Duration.seconds(5)

    /// Journals a spawned step process; runs on the worker thread that spawned it.
    func processRecorder(runID: Int64, stepIndex: Int, attempt: Int) -> @Sendable (Int32) -> Void {
        let journal = journal
        return { pid in
            guard let stat = ProcessSystem.processStat(pid) else { return }
            // Deferred: joins the next commit (within 2 ms), not a transaction of its own.
            journal.submitDeferred([.attemptProcess(runID: runID, stepIndex: stepIndex, attempt: attempt, pid: pid, startTime: stat.startTime)])
        }
    }

    /// Stops the process groups of attempts a previous daemon left running; called by
    /// start() before recoverUnfinishedRuns.
    func stopOrphanedProcesses(_ reader: JournalReader) {
        let recorded: [RecordedProcess]
        do {
            recorded = try reader.runningAttemptProcesses()
        } catch {
            logger.log(.error, "could not look for step processes left by a previous flowd: \(error)")
            return
        }
        let orphans = recorded.filter { ProcessSystem.processStat($0.pid)?.startTime == $0.startTime }
        guard !orphans.isEmpty else { return }
        // Every member of each group (started no earlier than its leader), held by pidfd
        // before any signal, so the wait and the SIGKILL reach exactly those processes.
        var members: [(pid: Int32, descriptor: Int32)] = []
        var groupOf: [Int32: Int32] = [:]
        for orphan in orphans {
            for member in ProcessSystem.openGroupMembers(orphan.pid, startedAt: orphan.startTime) {
                members.append(member)
                groupOf[member.pid] = orphan.pid
            }
        }
        for orphan in orphans { ProcessSystem.signalGroupOnly(orphan.pid, SIGTERM) }
        let survivors = ProcessSystem.waitForExitOrKill(members, until: .now + Self.orphanGrace)
        let killedGroups = Set(survivors.compactMap { groupOf[$0] })
        let now = WallClock.nowMicroseconds()
        for orphan in orphans {
            let killed = killedGroups.contains(orphan.pid)
            let how = killed ? "SIGTERM, then SIGKILL after \(DurationText.format(Self.orphanGrace))" : "SIGTERM"
            logger.log(.warning, "run \(orphan.runID) step \(orphan.stepID) attempt \(orphan.attempt): stopped process group "
                + "\(orphan.pid) left running by a previous flowd (\(how))",
                fields: ["FLOWD_RUN": "\(orphan.runID)", "FLOWD_STEP": orphan.stepID, "FLOWD_ATTEMPT": "\(orphan.attempt)"])
            journal.submit([.event(RunEvent(at: now, runID: orphan.runID, kind: "orphaned_process_stopped", details: [
                "step": .string(orphan.stepID), "attempt": .int(Int64(orphan.attempt)), "pid": .int(Int64(orphan.pid)),
                "killed": .bool(killed),
            ]))])
        }
    }
}
