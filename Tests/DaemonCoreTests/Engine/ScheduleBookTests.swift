import XCTest
@testable import DaemonCore

final class ScheduleBookTests: XCTestCase {
    func trigger(_ text: String, catchUp: Bool) throws -> ScheduleTrigger {
        ScheduleTrigger(text: text, schedule: try CronSchedule.parse(text), catchUp: catchUp,
                        location: SourceLocation(file: "t", line: 1, column: 1))
    }

    func testEachSlotFiresOnceAndMissedSlotsOnlyWithCatchUp() throws {
        let hourly = try trigger("TZ=UTC 0 * * * *", catchUp: true)
        let key = ScheduleKey(workflow: "w", schedule: hourly.schedule.canonicalText)
        let ten = Int64(1_795_000_000) / 3600 * 3600 + 10 * 60  // 10 minutes past an hour
        var book = ScheduleBook()
        XCTAssertNil(book.catchUpSlot(key, hourly, now: ten), "nothing fired before: nothing to catch up")
        XCTAssertEqual(book.nextSlot(key, hourly, now: ten), ten - 600 + 3600)

        XCTAssertTrue(book.markFired(key, slot: ten - 600 - 3 * 3600))
        XCTAssertEqual(book.catchUpSlot(key, hourly, now: ten), ten - 600, "the latest missed slot, once")
        XCTAssertTrue(book.markFired(key, slot: ten - 600))
        XCTAssertFalse(book.markFired(key, slot: ten - 600), "a slot never fires twice")
        XCTAssertFalse(book.markFired(key, slot: ten - 3600 - 600), "nor an earlier one")
        XCTAssertNil(book.catchUpSlot(key, hourly, now: ten))

        let noCatchUp = try trigger("TZ=UTC 0 * * * *", catchUp: false)
        XCTAssertNil(book.catchUpSlot(key, noCatchUp, now: ten + 5 * 3600))
        XCTAssertEqual(book.nextSlot(key, noCatchUp, now: ten + 5 * 3600), ten - 600 + 6 * 3600)
    }
}
