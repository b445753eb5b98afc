// TimeArgument.swift: what `--since` accepts: a duration ago ("30m", "2h", "1d"), a
// local date or time ("2026-11-22", "2026-11-22 04:00", "2026-11-22 04:00:30"), or
// RFC 3339 UTC ("2026-11-22T04:00:00Z"). Returns microseconds since the epoch.

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

enum TimeArgument {
    static func parse(_ text: String) -> Int64? {
        if let ago = DurationText.parse(text) {
            return WallClock.nowMicroseconds() - ago.milliseconds * 1000
        }
        if let utc = WallClock.parseRFC3339(text) { return utc }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "T" })
        guard (1...2).contains(parts.count) else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int32($0) }
        guard date.count == 3 else { return nil }
        var time: [Int32] = [0, 0, 0]
        if parts.count == 2 {
            let fields = parts[1].split(separator: ":").compactMap { Int32($0) }
            guard (2...3).contains(fields.count) else { return nil }
            for (index, value) in fields.enumerated() { time[index] = value }
        }
        var local = tm()
        local.tm_year = date[0] - 1900; local.tm_mon = date[1] - 1; local.tm_mday = date[2]
        local.tm_hour = time[0]; local.tm_min = time[1]; local.tm_sec = time[2]
        local.tm_isdst = -1
        let seconds = mktime(&local)
        return seconds == -1 ? nil : Int64(seconds) * 1_000_000
    }
}
