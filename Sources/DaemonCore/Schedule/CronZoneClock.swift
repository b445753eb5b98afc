// CronZoneClock.swift: from a wall-clock minute of a time zone to the instants it names.
//
// Offsets come from Foundation's TimeZone (the system tz database). A wall-clock time
// names one instant, two (the repeated hour when clocks fall back) or none (the hour
// skipped when they spring forward; then the instant the clock jumps is reported).
// Assumes at most one offset change within any two days, which holds for the tz
// database in practice; if it does not, the answer is still an instant near the time
// asked. Nothing here fails.

import Foundation

/// The clock of one time zone, reading instants as local seconds and back.
struct CronZoneClock {
    /// What a wall-clock time is in real time.
    enum Resolution: Equatable {
        /// The time occurs once.
        case unique(Int64)
        /// The time occurs twice (clocks fell back); the earlier instant first.
        case repeated(Int64, Int64)
        /// The time does not occur (clocks sprang forward); `jump` is the first instant
        /// after the gap, when the clock shows the end of the gap.
        case skipped(jump: Int64)
    }

    let timeZone: TimeZone

    /// The zone's offset from UTC in seconds at `instant` (Unix seconds).
    func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The instants at which the zone's clock shows `local` (local seconds).
    func resolve(_ local: Int64) -> Resolution {
        let offsetBefore = offset(at: local - 86_400)
        let offsetAfter = offset(at: local + 86_400)
        if offsetBefore == offsetAfter, offset(at: local - offsetBefore) == offsetBefore {
            return .unique(local - offsetBefore)
        }
        let larger = max(offsetBefore, offsetAfter)
        let smaller = min(offsetBefore, offsetAfter)
        let earlier = local - larger
        let later = local - smaller
        let earlierValid = offset(at: earlier) == larger
        let laterValid = offset(at: later) == smaller
        switch (earlierValid, laterValid) {
        case (true, true):
            return earlier == later ? .unique(earlier) : .repeated(earlier, later)
        case (true, false):
            return .unique(earlier)
        case (false, true):
            return .unique(later)
        case (false, false):
            return .skipped(jump: firstInstantWithNewOffset(after: earlier, through: later))
        }
    }

    /// The first instant in (start, end] whose offset differs from the one at `start`
    /// (end itself when none does, which only happens with irregular zone data).
    private func firstInstantWithNewOffset(after start: Int64, through end: Int64) -> Int64 {
        let startOffset = offset(at: start)
        var low = start
        var high = end
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == startOffset {
                low = middle
            } else {
                high = middle
            }
        }
        return high
    }
}
