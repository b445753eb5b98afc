// ScheduleBook.swift: which cron slots are due, and which already fired.
//
// A schedule fires at most once per slot: the book remembers the last slot each
// (workflow, schedule) fired for, and the journal keeps it across restarts. Slots
// missed while the daemon was down are skipped, unless the schedule says catch_up,
// then the latest missed one fires once at start. Pure: the engine supplies `now`.

/// Identifies one schedule of one workflow (the schedule by its canonical text).
struct ScheduleKey: Hashable, Sendable {
    var workflow: String
    var schedule: String
}

struct ScheduleBook: Sendable {
    /// Last slot fired (Unix seconds), per schedule.
    var lastFired: [ScheduleKey: Int64] = [:]

    /// The slot to fire now for a schedule that missed slots while the daemon was down
    /// (only with catch_up, and only once a slot has fired before).
    func catchUpSlot(_ key: ScheduleKey, _ trigger: ScheduleTrigger, now: Int64) -> Int64? {
        guard trigger.catchUp, let last = lastFired[key] else { return nil }
        return trigger.schedule.fires(from: last, through: now, limit: 100_000).last
    }

    /// The next slot after `now` that has not fired yet.
    func nextSlot(_ key: ScheduleKey, _ trigger: ScheduleTrigger, now: Int64) -> Int64? {
        trigger.schedule.nextFire(after: max(now, lastFired[key] ?? now))
    }

    /// Records that `slot` fired; false when it (or a later one) already had.
    mutating func markFired(_ key: ScheduleKey, slot: Int64) -> Bool {
        if let last = lastFired[key], slot <= last { return false }
        lastFired[key] = slot
        return true
    }
}
