// CronTimeZoneTests.swift: schedules in a zone, across daylight saving changes.
//
// 2024 dates: New York springs forward on Mar 10 and falls back on Nov 3; Berlin springs
// forward on Mar 31 at 01:00Z (02:00 CET -> 03:00 CEST) and falls back on Oct 27 at
// 01:00Z (03:00 CEST -> 02:00 CET).

import XCTest
@testable import DaemonCore

final class CronTimeZoneTests: XCTestCase {
    private func fires(_ schedule: String, after start: String, count: Int) throws -> [String] {
        try CronTestTime.fires(schedule, after: start, count: count)
    }

    private func fires(_ schedule: String, from start: String, through end: String) throws -> [Int64] {
        try CronSchedule.parse(schedule).fires(from: CronTestTime.seconds(start), through: CronTestTime.seconds(end),
                                               limit: 1000)
    }

    func testNewYorkMorningFollowsSummerTime() throws {
        XCTAssertEqual(try fires("TZ=America/New_York 0 9 * * *", after: "2024-03-09T00:00:00Z", count: 3),
                       ["2024-03-09T14:00:00Z", "2024-03-10T13:00:00Z", "2024-03-11T13:00:00Z"])
        XCTAssertEqual(try fires("TZ=America/New_York 0 9 * * *", after: "2024-11-02T00:00:00Z", count: 3),
                       ["2024-11-02T13:00:00Z", "2024-11-03T14:00:00Z", "2024-11-04T14:00:00Z"])
        XCTAssertEqual(try fires("CRON_TZ=Asia/Tokyo @daily", after: "2024-01-01T00:00:00Z", count: 1),
                       ["2024-01-01T15:00:00Z"])
    }

    func testSkippedTimeFiresOnceWhenTheClockJumps() throws {
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 2 * * *", after: "2024-03-30T00:00:00Z", count: 3),
                       ["2024-03-30T01:30:00Z", "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"])
        // Two matching times inside the gap still make one run.
        XCTAssertEqual(try fires("TZ=Europe/Berlin 0,30 2 * * *", after: "2024-03-31T00:00:00Z", count: 2),
                       ["2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z"])
        // A time in the gap and 03:00 itself are the same instant: one run.
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 2,3 * * *", after: "2024-03-31T00:00:00Z", count: 2),
                       ["2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z"])
    }

    func testRepeatedTimeFiresOnceAtItsFirstOccurrence() throws {
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 2 * * *", after: "2024-10-26T00:00:00Z", count: 3),
                       ["2024-10-26T00:30:00Z", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"])
        // Asking from inside the repeated hour does not fire the second occurrence either.
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 2 * * *", after: "2024-10-27T01:10:00Z", count: 1),
                       ["2024-10-28T01:30:00Z"])
    }

    func testQuarterHourKeepsItsRhythmAcrossBothChanges() throws {
        let schedule = "TZ=Europe/Berlin */15 * * * *"
        let spring = try fires(schedule, from: "2024-03-30T23:00:00Z", through: "2024-03-31T03:00:00Z")
        XCTAssertEqual(spring.count, 16)
        XCTAssertEqual(Set(zip(spring, spring.dropFirst()).map { $1 - $0 }), [900])
        let autumn = try fires(schedule, from: "2024-10-26T23:00:00Z", through: "2024-10-27T03:00:00Z")
        XCTAssertEqual(autumn.count, 16)
        XCTAssertEqual(Set(zip(autumn, autumn.dropFirst()).map { $1 - $0 }), [900])
        // From inside the repeated hour the next quarter is 15 real minutes away.
        XCTAssertEqual(try fires(schedule, after: "2024-10-27T00:50:00Z", count: 2),
                       ["2024-10-27T01:00:00Z", "2024-10-27T01:15:00Z"])
    }

    func testHourlyWildcardFollowsTheClock() throws {
        // Minute fixed, hour "*": runs every real hour, twice at 02:30 local on fall-back
        // day and not at all at the skipped 02:30 (Vixie's wildcard rule).
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 * * * *", after: "2024-10-27T00:00:00Z", count: 3),
                       ["2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z", "2024-10-27T02:30:00Z"])
        XCTAssertEqual(try fires("TZ=Europe/Berlin 30 * * * *", after: "2024-03-31T00:00:00Z", count: 2),
                       ["2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z"])
        XCTAssertEqual(try fires("TZ=Europe/Berlin */30 2 * * *", after: "2024-03-30T23:00:00Z", count: 1),
                       ["2024-04-01T00:00:00Z"])
    }

    func testFixedHoursSkipTheRepeatedHour() throws {
        // "0-59/15 0-23" matches the same minutes as "*/15 *" but is a fixed-time job.
        let autumn = try fires("TZ=Europe/Berlin 0-59/15 0-23 * * *",
                               from: "2024-10-26T23:00:00Z", through: "2024-10-27T03:00:00Z")
        XCTAssertEqual(autumn.count, 12)
        XCTAssertEqual(autumn.map(CronTestTime.text).prefix(5),
                       ["2024-10-26T23:15:00Z", "2024-10-26T23:30:00Z", "2024-10-26T23:45:00Z",
                        "2024-10-27T00:00:00Z", "2024-10-27T00:15:00Z"])
        XCTAssertEqual(autumn.map(CronTestTime.text)[6...7], ["2024-10-27T00:45:00Z", "2024-10-27T02:00:00Z"])
    }

    func testCatchUpWindowAcrossAChange() throws {
        let missed = try fires("TZ=America/New_York 0 9 * * *", from: "2024-03-08T00:00:00Z",
                               through: "2024-03-12T00:00:00Z")
        XCTAssertEqual(missed.map(CronTestTime.text),
                       ["2024-03-08T14:00:00Z", "2024-03-09T14:00:00Z", "2024-03-10T13:00:00Z", "2024-03-11T13:00:00Z"])
    }
}
