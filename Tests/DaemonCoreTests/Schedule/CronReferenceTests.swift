// CronReferenceTests.swift: the field-skipping search against a slow, obvious reference
// that walks every real minute and asks Foundation's Calendar what the clock shows.
//
// The reference states the DST rules of CronSchedule's doc comment minute by minute;
// the zones cover one-hour changes, a change at midnight (Santiago) and a half-hour
// change (Lord Howe).

import XCTest
@testable import DaemonCore

final class CronReferenceTests: XCTestCase {
    /// The fires in (start, start + minutes*60] by walking every real minute: a wildcard
    /// schedule fires whenever the clock shows a matching minute; a fixed one skips a
    /// minute the clock shows for the second time, and fires when the clock jumps over a
    /// matching minute. Local times come from Calendar, not from the code under test.
    private func referenceFires(_ text: String, zone: TimeZone, after start: Int64, minutes: Int) -> [Int64] {
        let fields = text.split(separator: " ").map(String.init)
        var zoned = Calendar(identifier: .gregorian)
        zoned.timeZone = zone
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let sets = fields.enumerated().map { index, field in ReferenceField(field, index: index) }
        let bothDaysRestricted = !fields[2].hasPrefix("*") && !fields[4].hasPrefix("*")
        let wildcard = fields[0].hasPrefix("*") || fields[1].hasPrefix("*")
        func matches(_ instant: Int64, _ calendar: Calendar) -> Bool {
            let parts = calendar.dateComponents([.minute, .hour, .day, .month, .weekday],
                                                from: Date(timeIntervalSince1970: TimeInterval(instant)))
            let dayOfMonth = sets[2].contains(parts.day!)
            let weekday = sets[4].contains(parts.weekday! - 1) || (parts.weekday == 1 && sets[4].contains(7))
            let dayMatches = bothDaysRestricted ? (dayOfMonth || weekday) : (dayOfMonth && weekday)
            return sets[0].contains(parts.minute!) && sets[1].contains(parts.hour!) && sets[3].contains(parts.month!)
                && dayMatches
        }
        func offset(_ instant: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
        }
        var fires: [Int64] = []
        var instant = (start / 60 + 1) * 60
        for _ in 0..<minutes {
            let local = instant + offset(instant)
            let previousLocal = instant - 60 + offset(instant - 60)
            let earlierOffset = offset(instant - 86_400)
            let shownBefore = local - earlierOffset < instant && offset(local - earlierOffset) == earlierOffset
            var fire = matches(instant, zoned) && (wildcard || !shownBefore)
            if !wildcard, local - previousLocal > 60 {
                fire = fire || stride(from: previousLocal + 60, to: local, by: 60).contains { matches($0, utc) }
            }
            if fire { fires.append(instant) }
            instant += 60
        }
        return fires
    }

    private func compare(_ text: String, zone: String, after startText: String, days: Int,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        let start = CronTestTime.seconds(startText)
        let minutes = days * 1440
        let expected = referenceFires(text, zone: TimeZone(identifier: zone)!, after: start, minutes: minutes)
        let actual = try CronSchedule.parse("TZ=\(zone) \(text)").fires(from: start, through: start + Int64(minutes) * 60,
                                                                        limit: 100_000)
        XCTAssertEqual(actual.map(CronTestTime.text), expected.map(CronTestTime.text), "\(text) in \(zone)",
                       file: file, line: line)
    }

    func testSchedulesMatchTheReferenceAcrossDaylightSavingChanges() throws {
        let changes = [("Europe/Berlin", "2024-03-29T12:00:00Z"), ("Europe/Berlin", "2024-10-25T12:00:00Z"),
                       ("America/New_York", "2024-11-02T00:00:00Z"), ("America/Santiago", "2024-09-06T12:00:00Z"),
                       ("Australia/Lord_Howe", "2024-04-05T12:00:00Z"), ("Australia/Lord_Howe", "2024-10-05T00:00:00Z")]
        let schedules = ["*/15 * * * *", "7 * * * *", "*/20 1-3 * * *", "*/10 * 27,31 3,10 SUN", "30 2 * * *",
                         "0,30 0-3 * * *", "0 0 * * *", "45 1 * * 0", "0-59/15 0-23 * * *", "10 2 */2 * 0"]
        for (zone, start) in changes {
            for text in schedules {
                try compare(text, zone: zone, after: start, days: 3)
            }
        }
    }

    func testFixedSchedulesMatchTheReferenceInUTC() throws {
        for text in ["30 3 * * *", "0 9-17 * * 1-5", "0 0 1,15 * *", "0 0 13 * 5", "0 0 */2 * 5", "15 6 29 2 *",
                     "0 12 * JAN,jul 7", "5-59/20 0/6 1-7 * MON", "59 23 31 * *"] {
            try compare(text, zone: "UTC", after: "2024-01-25T00:00:00Z", days: 40)
        }
    }
}

/// One field of a cron line, expanded by the simplest possible code.
private struct ReferenceField {
    var values: Set<Int> = []

    init(_ text: String, index: Int) {
        let names = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
                     "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        let limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)][index]
        func value(_ text: Substring) -> Int {
            if let number = Int(text) { return number }
            let position = names.firstIndex(of: text.uppercased())!
            return position < 12 ? position + 1 : position - 12
        }
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "/")
            let step = parts.count > 1 ? Int(parts[1])! : 1
            let bounds = parts[0].split(separator: "-")
            let low = parts[0] == "*" ? limits.0 : value(bounds[0])
            let high = parts[0] == "*" ? limits.1 : bounds.count > 1 ? value(bounds[1]) : parts.count > 1 ? limits.1 : low
            values.formUnion(stride(from: low, through: high, by: step))
        }
    }

    func contains(_ value: Int) -> Bool { values.contains(value) }
}
