// EngineJournalHealth.swift: what the engine does while the journal cannot be written.
//
// The journal writer keeps a failing batch and retries it (RunJournal.swift); it reports
// every failed try and the recovery here. While the journal is not writable the engine
// keeps what it has (runs go on as far as their writes allow; nothing is dropped) but
// takes nothing new: no spool file is claimed, no queued run starts, schedule slots are
// skipped, and Trigger and Replay are refused with NotAccepting. The transition is
// logged once as an error and shows in `flowadm status`, STATUS= and the metrics; the
// recovery is logged once, and the spool is rescanned for the files that waited.

extension Engine {
    /// Hands the writer's health reports to the loop. Called once, before the loop runs.
    func observeJournalHealth() {
        journal.observeHealth { [self] health in
            loop.execute { [self] in journalHealthChanged(health) }
        }
    }

    /// Why new work is refused now, or nil when it is accepted.
    var journalRefusal: String? {
        guard !journalHealth.isWritable else { return nil }
        let since = journalHealth.notWritableSince.map { WallClock.rfc3339(microseconds: $0) } ?? "?"
        return "the journal \(journal.path) is not writable since \(since) (\(journalHealth.error ?? "unknown error")); "
            + "flowd takes no new runs until it is"
    }

    func journalHealthChanged(_ health: JournalHealth) {
        let previous = journalHealth
        journalHealth = health
        statusBoard.update { $0.journal = health }
        if previous.isWritable && !health.isWritable {
            logger.log(.error, "journal not writable: \(health.error ?? "unknown error"); no new spool files are claimed and "
                       + "no new runs start until it is; pending writes are kept and retried")
        } else if !previous.isWritable && health.isWritable {
            let since = previous.notWritableSince ?? WallClock.nowMicroseconds()
            let milliseconds = (WallClock.nowMicroseconds() - since) / 1000
            logger.log(.notice, "journal writable again after \(milliseconds) ms and \(previous.retries) failed "
                       + "tr\(previous.retries == 1 ? "y" : "ies"); claiming spool files and starting runs again")
            guard phase == .running else { return }
            rescanSpool()
            dispatch()
        }
    }

    /// A schedule slot that comes while the journal is not writable is skipped (logged).
    func skipsScheduleSlot(_ workflow: String, schedule: String, slotText: String) -> Bool {
        guard let refusal = journalRefusal else { return false }
        logger.log(.warning, "schedule \(schedule) of \(workflow) skipped the \(slotText) slot: \(refusal)",
                   fields: ["FLOWD_WORKFLOW": workflow])
        return true
    }
}
