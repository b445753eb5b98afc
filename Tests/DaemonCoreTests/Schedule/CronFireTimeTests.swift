// CronFireTimeTests.swift: when schedules fire, in UTC, against hand-checked calendars
// (2024: Jan 1 a Monday, Feb 29 exists, Oct 1 a Tuesday, Oct 13 a Sunday).

import XCTest
@testable import DaemonCore

/// "2024-03-31T01:00:00Z" to Unix seconds and back, through Foundation (not our calendar code).
enum CronTestTime {
    static func seconds(_ text: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else { preconditionFailure("bad test time \(text)") }
        return Int64(date.timeIntervalSince1970)
    }

    static func text(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// The next `count` fires of `schedule` after `start`, as ISO 8601 UTC text.
    static func fires(_ schedule: String, after start: String, count: Int) throws -> [String] {
        try CronSchedule.parse(schedule).nextFires(after: seconds(start), count: count).map(text)
    }
}

final class CronFireTimeTests: XCTestCase {
    private func fires(_ schedule: String, after start: String, count: Int) throws -> [String] {
        try CronTestTime.fires("TZ=UTC " + schedule, after: start, count: count)
    }

    func testEveryMinuteFiresStrictlyAfter() throws {
        XCTAssertEqual(try fires("* * * * *", after: "2024-01-01T00:00:30Z", count: 3),
                       ["2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z", "2024-01-01T00:03:00Z"])
        XCTAssertEqual(try fires("* * * * *", after: "2024-01-01T00:01:00Z", count: 1), ["2024-01-01T00:02:00Z"])
        XCTAssertEqual(try fires("* * * * *", after: "2024-12-31T23:59:00Z", count: 1), ["2025-01-01T00:00:00Z"])
    }

    func testHourlyAndEveryQuarterHour() throws {
        XCTAssertEqual(try fires("@hourly", after: "2024-01-01T10:00:00Z", count: 2),
                       ["2024-01-01T11:00:00Z", "2024-01-01T12:00:00Z"])
        XCTAssertEqual(try fires("*/15 * * * *", after: "2024-01-01T10:07:00Z", count: 4),
                       ["2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z", "2024-01-01T10:45:00Z", "2024-01-01T11:00:00Z"])
        XCTAssertEqual(try fires("5/20 * * * *", after: "2024-01-01T10:00:00Z", count: 4),
                       ["2024-01-01T10:05:00Z", "2024-01-01T10:25:00Z", "2024-01-01T10:45:00Z", "2024-01-01T11:05:00Z"])
    }

    func testOfficeHoursSkipTheWeekend() throws {
        XCTAssertEqual(try fires("0 9-17 * * MON-FRI", after: "2024-01-05T16:30:00Z", count: 3),
                       ["2024-01-05T17:00:00Z", "2024-01-08T09:00:00Z", "2024-01-08T10:00:00Z"])
        XCTAssertEqual(try fires("*/15 9-17 * * 1-5", after: "2024-01-05T17:45:00Z", count: 1), ["2024-01-08T09:00:00Z"])
    }

    func testFirstAndFifteenthOfTheMonth() throws {
        XCTAssertEqual(try fires("0 0 1,15 * *", after: "2024-01-01T00:00:00Z", count: 4),
                       ["2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z", "2024-02-15T00:00:00Z", "2024-03-01T00:00:00Z"])
        XCTAssertEqual(try fires("@monthly", after: "2024-12-15T00:00:00Z", count: 1), ["2025-01-01T00:00:00Z"])
    }

    func testFebruaryTwentyNinthOnlyInLeapYears() throws {
        XCTAssertEqual(try fires("0 12 29 2 *", after: "2023-01-01T00:00:00Z", count: 3),
                       ["2024-02-29T12:00:00Z", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"])
        XCTAssertEqual(try fires("0 0 31 * *", after: "2024-01-31T00:00:00Z", count: 3),
                       ["2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z"])
    }

    func testImpossibleDateNeverFires() throws {
        let schedule = try CronSchedule.parse("TZ=UTC 0 0 30 2 *")
        XCTAssertNil(schedule.nextFire(after: CronTestTime.seconds("2024-01-01T00:00:00Z")))
        XCTAssertEqual(schedule.nextFires(after: 0, count: 5), [])
        XCTAssertNil(try CronSchedule.parse("0 0 31 APR,jun *").nextFire(after: 0))
        XCTAssertNil(try CronSchedule.parse("* * * * *").nextFire(after: .max))
        XCTAssertEqual(try CronSchedule.parse("TZ=UTC @yearly").nextFire(after: -1), 0)
    }

    func testBothDayFieldsRestrictedMeansEither() throws {
        // Every Friday and every 13th (Oct 13 2024 is a Sunday).
        XCTAssertEqual(try fires("0 0 13 * FRI", after: "2024-10-01T00:00:00Z", count: 6),
                       ["2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
                        "2024-10-18T00:00:00Z", "2024-10-25T00:00:00Z", "2024-11-01T00:00:00Z"])
        XCTAssertEqual(try fires("0 0 13 * *", after: "2024-10-01T00:00:00Z", count: 2),
                       ["2024-10-13T00:00:00Z", "2024-11-13T00:00:00Z"])
        XCTAssertEqual(try fires("0 0 * * FRI", after: "2024-10-01T00:00:00Z", count: 2),
                       ["2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z"])
    }

    func testStarredDayFieldMeansBoth() throws {
        // Day of month "*/2" starts with "*": Fridays that fall on odd days only (Vixie's DOM_STAR).
        XCTAssertEqual(try fires("0 0 */2 * FRI", after: "2024-10-01T00:00:00Z", count: 3),
                       ["2024-10-11T00:00:00Z", "2024-10-25T00:00:00Z", "2024-11-01T00:00:00Z"])
        // The same days written without "*" are OR-ed with Friday instead.
        XCTAssertEqual(try fires("0 0 1-31/2 * FRI", after: "2024-10-01T00:00:00Z", count: 3),
                       ["2024-10-03T00:00:00Z", "2024-10-04T00:00:00Z", "2024-10-05T00:00:00Z"])
    }

    func testSundayIsZeroSevenOrSun() throws {
        let expected = ["2024-10-06T12:00:00Z", "2024-10-13T12:00:00Z"]
        XCTAssertEqual(try fires("0 12 * * 0", after: "2024-10-01T00:00:00Z", count: 2), expected)
        XCTAssertEqual(try fires("0 12 * * 7", after: "2024-10-01T00:00:00Z", count: 2), expected)
        XCTAssertEqual(try fires("0 12 * * sun", after: "2024-10-01T00:00:00Z", count: 2), expected)
        XCTAssertEqual(try fires("@weekly", after: "2024-10-01T00:00:00Z", count: 1), ["2024-10-06T00:00:00Z"])
        XCTAssertEqual(try fires("0 0 * * SAT-SUN", after: "2024-10-01T00:00:00Z", count: 3),
                       ["2024-10-05T00:00:00Z", "2024-10-06T00:00:00Z", "2024-10-12T00:00:00Z"])
    }

    func testMonthNames() throws {
        XCTAssertEqual(try fires("0 0 1 JAN,jul *", after: "2024-02-01T00:00:00Z", count: 2),
                       ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
        XCTAssertEqual(try fires("@yearly", after: "2024-01-01T00:00:00Z", count: 1), ["2025-01-01T00:00:00Z"])
    }

    func testFiresInAWindowForCatchUp() throws {
        let schedule = try CronSchedule.parse("TZ=UTC 0 * * * *")
        let start = CronTestTime.seconds("2024-01-01T10:00:00Z")
        let end = CronTestTime.seconds("2024-01-01T13:00:00Z")
        XCTAssertEqual(schedule.fires(from: start, through: end, limit: 10).map(CronTestTime.text),
                       ["2024-01-01T11:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z"])
        XCTAssertEqual(schedule.fires(from: start, through: end, limit: 2).map(CronTestTime.text),
                       ["2024-01-01T11:00:00Z", "2024-01-01T12:00:00Z"])
        XCTAssertEqual(schedule.fires(from: start, through: end - 1, limit: 10).count, 2)
        XCTAssertEqual(schedule.fires(from: start, through: start, limit: 10), [])
    }

    func testNoPrefixUsesTheDaemonsZone() throws {
        let local = try CronSchedule.parse("30 3 * * *")
        let explicit = try CronSchedule.parse("TZ=\(TimeZone.current.identifier) 30 3 * * *")
        let start = CronTestTime.seconds("2024-03-01T00:00:00Z")
        XCTAssertEqual(local.nextFires(after: start, count: 40), explicit.nextFires(after: start, count: 40))
    }
}
