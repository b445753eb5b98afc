// CronSchedule.swift: a workflow's `on.schedule`, parsed, and its fire times.
//
// Parsing fails with a CronError (the message names the field and the offending text,
// the offset says where it is); computing fire times never fails: it answers nil when
// there is no fire time within five years. Fire times are Unix seconds (UTC); the
// fields are read on the clock of the schedule's zone (TZ= prefix) or of the daemon's.

import Foundation

/// An error in a schedule: `offset` is the 0-based character offset in the schedule text.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// "offset 3: minute 60 is out of range 0-59".
    public var description: String { "offset \(offset): \(message)" }
}

/// A cron schedule with the semantics of Vixie/ISC cron.
///
/// Text: five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC,
/// day of week 0-7 with 0 and 7 both Sunday, or SUN-SAT; names in any case), each a
/// comma list of `*`, `a`, `a-b`, `*/n`, `a-b/n` or `a/n` (= `a-max/n`), or one macro:
/// `@hourly` (`0 * * * *`), `@daily` and `@midnight` (`0 0 * * *`), `@weekly`
/// (`0 0 * * 0`), `@monthly` (`0 0 1 * *`), `@yearly` and `@annually` (`0 0 1 1 *`).
/// `TZ=Area/City ` or `CRON_TZ=Area/City ` in front picks the zone. `@reboot` is refused.
/// A weekday range ending in `SUN` ends at 7 (`SAT-SUN` is `6-7`).
///
/// Matching: a time matches when its minute, hour and month are in their fields and its
/// day matches. When both day fields are restricted (neither starts with `*`) a day
/// matches if EITHER its day of month or its weekday does (`0 0 13 * FRI` fires every
/// 13th and every Friday); when either starts with `*` (even `*/2`) both must match.
///
/// Daylight saving time, as Vixie cron's `cron(8)` describes it:
/// - A "wildcard" schedule (its minute or hour field starts with `*`, as in `*/15 * * * *`
///   or `@hourly`) follows the clock: it fires whenever the zone's clock shows a
///   matching minute. Across a change it keeps its real-time rhythm: every 15 real
///   minutes, no duplicates, and minutes the clock skips simply do not occur.
/// - A fixed-time schedule (`30 2 * * *`) fires once per matching wall-clock time: a
///   time in the hour the clock skips fires at the first instant after the gap (03:00),
///   once even if several matching times fall in the gap; a time in the hour the clock
///   repeats fires at its first occurrence only.
public struct CronSchedule: Sendable, Equatable {
    /// The IANA zone from a TZ= prefix, nil for the daemon's local zone.
    public let timeZoneIdentifier: String?
    /// Normalized text (for a definition's canonical form): macros expanded to 5 fields,
    /// names to numbers, `a/n` to `a-max/n`, single spaces, e.g. "TZ=Europe/Paris 0 9 * * 1-5".
    public let canonicalText: String
    private let fields: CronFields
    /// The zone of `timeZoneIdentifier`; nil means TimeZone.current at computation time.
    private let timeZone: TimeZone?

    /// How far ahead `nextFire` looks before it gives up.
    private static let horizonSeconds: Int64 = (5 * 365 + 2) * 86_400
    /// The instants nextFire answers for: years 1 to 9999, far from Int64 overflow.
    private static let supportedInstants: ClosedRange<Int64> = -62_135_596_800...253_402_300_799
    /// Two days: the window in which the zone is assumed to change offset at most once.
    private static let twoDays: Int64 = 2 * 86_400

    /// Parses `"30 3 * * *"`, `"*/15 9-17 * * MON-FRI"`, `"0 0 1,15 * *"`, `"@hourly"`,
    /// `"@daily"`, `"@midnight"`, `"@weekly"`, `"@monthly"`, `"@yearly"`, `"@annually"`,
    /// optionally prefixed by `"TZ=Area/City "` (also `"CRON_TZ="`). `@reboot` is refused
    /// ("@reboot is not supported; use on: manual or a systemd unit").
    public static func parse(_ text: String) throws(CronError) -> CronSchedule {
        let parsed = try CronParser.parse(text)
        return CronSchedule(parsed)
    }

    private init(_ parsed: ParsedCron) {
        timeZoneIdentifier = parsed.timeZoneIdentifier
        timeZone = parsed.timeZone
        fields = parsed.fields
        canonicalText = parsed.timeZoneIdentifier.map { "TZ=\($0) " + parsed.canonicalFields } ?? parsed.canonicalFields
    }

    /// The first fire time strictly after `after` (Unix seconds, UTC); nil only if there
    /// is none within 5 years (e.g. "0 0 30 2 *"), or `after` is outside years 1-9999.
    public func nextFire(after instant: Int64) -> Int64? {
        guard Self.supportedInstants.contains(instant) else { return nil }
        let clock = CronZoneClock(timeZone: timeZone ?? TimeZone.current)
        let offsetNow = clock.offset(at: instant)
        let offsetSoon = clock.offset(at: instant + Self.twoDays)
        // Any fire u > instant shows a local time above instant + the lowest offset, and
        // is not below (local time - the highest offset) of the zone near it.
        var highestOffset = max(offsetNow, offsetSoon)
        var local = instant + min(offsetNow, offsetSoon) + 1
        let horizon = instant + highestOffset + Self.horizonSeconds
        var best: Int64?
        while let match = fields.nextMatch(atOrAfter: local, through: horizon) {
            if let best, match - highestOffset >= best { break }
            for candidate in fireInstants(showing: match, on: clock) where candidate > instant {
                if best == nil || candidate < best! {
                    best = candidate
                    highestOffset = max(highestOffset, clock.offset(at: candidate - Self.twoDays),
                                        clock.offset(at: candidate))
                }
            }
            local = match + 60
        }
        return best
    }

    /// The next `count` fire times after `after`, in order (fewer past the 5-year horizon).
    public func nextFires(after instant: Int64, count: Int) -> [Int64] {
        precondition(count >= 0, "count must not be negative")
        var fires: [Int64] = []
        fires.reserveCapacity(count)
        var last = instant
        while fires.count < count, let next = nextFire(after: last) {
            fires.append(next)
            last = next
        }
        return fires
    }

    /// The fire times in (from, through], at most `limit`, in order (for catch-up after
    /// downtime).
    public func fires(from start: Int64, through end: Int64, limit: Int) -> [Int64] {
        precondition(limit >= 0, "limit must not be negative")
        var fires: [Int64] = []
        var last = start
        while fires.count < limit, let next = nextFire(after: last), next <= end {
            fires.append(next)
            last = next
        }
        return fires
    }

    /// The instants a matching wall-clock minute fires at, per the DST rules above.
    private func fireInstants(showing local: Int64, on clock: CronZoneClock) -> [Int64] {
        switch clock.resolve(local) {
        case .unique(let instant):
            return [instant]
        case .repeated(let first, let second):
            return fields.minuteOrHourStar ? [first, second] : [first]
        case .skipped(let jump):
            return fields.minuteOrHourStar ? [] : [jump]
        }
    }
}
