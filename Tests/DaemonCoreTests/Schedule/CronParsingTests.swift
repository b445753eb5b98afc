// CronParsingTests.swift: what schedule text is accepted, how it is normalized, and the
// exact error (message and offset) a sysadmin sees for each kind of mistake.

import XCTest
@testable import DaemonCore

final class CronParsingTests: XCTestCase {
    private func canonical(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            return try CronSchedule.parse(text).canonicalText
        } catch {
            XCTFail("\(text): \(error)", file: file, line: line)
            return nil
        }
    }

    private func assertError(_ text: String, _ offset: Int, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        do {
            let schedule = try CronSchedule.parse(text)
            XCTFail("'\(text)' parsed as '\(schedule.canonicalText)'", file: file, line: line)
        } catch {
            XCTAssertEqual(error, CronError(offset: offset, message: message), file: file, line: line)
        }
    }

    func testEveryFormParsesToItsCanonicalText() {
        XCTAssertEqual(canonical("30 3 * * *"), "30 3 * * *")
        XCTAssertEqual(canonical("*/15 9-17 * * MON-FRI"), "*/15 9-17 * * 1-5")
        XCTAssertEqual(canonical("0 0 1,15 * *"), "0 0 1,15 * *")
        XCTAssertEqual(canonical("0-30/10 */2 1-15/7 */3 *"), "0-30/10 */2 1-15/7 */3 *")
        XCTAssertEqual(canonical("5/20 * * * *"), "5-59/20 * * * *")
        XCTAssertEqual(canonical("0 0 * jan-MAR,Dec sun"), "0 0 * 1-3,12 0")
        XCTAssertEqual(canonical("0 0 * * Mon,wed,FRI"), "0 0 * * 1,3,5")
        XCTAssertEqual(canonical("0 0 * * SAT-SUN"), "0 0 * * 6-7")
        XCTAssertEqual(canonical("0 0 * * 1,7"), "0 0 * * 1,7")
        XCTAssertEqual(canonical("  05\t03   *  * *  "), "5 3 * * *")
        XCTAssertEqual(canonical("*/1,7 * * * *"), "*/1,7 * * * *")
    }

    func testMacrosExpandToFiveFields() {
        XCTAssertEqual(canonical("@hourly"), "0 * * * *")
        XCTAssertEqual(canonical("@daily"), "0 0 * * *")
        XCTAssertEqual(canonical("@midnight"), "0 0 * * *")
        XCTAssertEqual(canonical("@weekly"), "0 0 * * 0")
        XCTAssertEqual(canonical("@monthly"), "0 0 1 * *")
        XCTAssertEqual(canonical("@yearly"), "0 0 1 1 *")
        XCTAssertEqual(canonical("@annually"), "0 0 1 1 *")
        XCTAssertEqual(try CronSchedule.parse("@daily"), try CronSchedule.parse("0  0 * * *"))
        XCTAssertNotEqual(try CronSchedule.parse("@daily"), try CronSchedule.parse("@hourly"))
    }

    func testTimeZonePrefix() throws {
        let paris = try CronSchedule.parse("TZ=Europe/Paris 0 9 * * MON-FRI")
        XCTAssertEqual(paris.timeZoneIdentifier, "Europe/Paris")
        XCTAssertEqual(paris.canonicalText, "TZ=Europe/Paris 0 9 * * 1-5")
        let tokyo = try CronSchedule.parse("CRON_TZ=Asia/Tokyo @daily")
        XCTAssertEqual(tokyo.timeZoneIdentifier, "Asia/Tokyo")
        XCTAssertEqual(tokyo.canonicalText, "TZ=Asia/Tokyo 0 0 * * *")
        XCTAssertNil(try CronSchedule.parse("0 9 * * *").timeZoneIdentifier)
        XCTAssertNotEqual(paris, try CronSchedule.parse("0 9 * * 1-5"))
    }

    func testFieldErrorsNameTheFieldAndTheValue() {
        assertError("60 * * * *", 0, "minute 60 is out of range 0-59")
        assertError("0 24 * * *", 2, "hour 24 is out of range 0-23")
        assertError("0 0 0 * *", 4, "day of month 0 is out of range 1-31")
        assertError("0 0 * 13 *", 6, "month 13 is out of range 1-12")
        assertError("0 0 * * 8", 8, "day of week 8 is out of range 0-7")
        assertError("0 0 1-32 * *", 6, "day of month 32 is out of range 1-31")
        assertError("1234567890 * * * *", 0, "minute 1234567890 is out of range 0-59")
        assertError("0 0 1 JAM *", 6, "unknown month name 'JAM'")
        assertError("0 0 * * FRX", 8, "unknown day name 'FRX'")
        assertError("0 0 * * MONDAY", 8, "unknown day name 'MONDAY'")
        assertError("0 noon * * *", 2, "hour must be a number, found 'noon'")
        assertError("0 0 * * mon-fri 9", 16, "expected 5 fields, found 6")
    }

    func testStepAndRangeErrors() {
        assertError("*/0 * * * *", 2, "minute step must be at least 1")
        assertError("0 0-23/0 * * *", 7, "hour step must be at least 1")
        assertError("*/ * * * *", 2, "minute step is missing after '/'")
        assertError("*/x * * * *", 2, "minute step must be a number, found 'x'")
        assertError("0 5-3 * * *", 2, "hour range 5-3 is backwards")
        assertError("0 0 * * FRI-MON", 8, "day of week range 5-1 is backwards")
        assertError("0 0 5- * *", 6, "day of month range '5-' has no end")
        assertError("0 0 -5 * *", 4, "expected a number 1-31 or '*' in day of month, found '-'")
    }

    func testSyntaxErrorsPointAtTheOffendingCharacter() {
        assertError("0 0 * *", 7, "expected 5 fields, found 4")
        assertError("", 0, "expected 5 fields, found 0")
        assertError("0 0 * * * *", 10, "expected 5 fields, found 6")
        assertError("1,,2 * * * *", 2, "empty item in the minute list")
        assertError("0 1, * * *", 4, "empty item in the hour list")
        assertError("5x * * * *", 1, "unexpected 'x' in minute")
        assertError("*5 * * * *", 1, "unexpected '5' in minute")
        assertError("1-2-3 * * * *", 3, "unexpected '-' in minute")
        assertError("0 0 ? * *", 4, "expected a number 1-31 or '*' in day of month, found '?'")
        assertError("0 0 * * L", 8, "unknown day name 'L'")
    }

    func testMacroAndTimeZoneErrors() {
        assertError("@reboot", 0, "@reboot is not supported; use on: manual or a systemd unit")
        assertError("TZ=UTC @reboot", 7, "@reboot is not supported; use on: manual or a systemd unit")
        assertError("@fortnightly", 0, "unknown macro '@fortnightly'; expected @hourly, @daily, @midnight, "
                        + "@weekly, @monthly, @yearly or @annually")
        assertError("@Daily", 0, "unknown macro '@Daily'; expected @hourly, @daily, @midnight, "
                        + "@weekly, @monthly, @yearly or @annually")
        assertError("@daily 5", 7, "@daily stands alone; found '5' after it")
        assertError("TZ=Mars/Olympus 0 0 * * *", 3, "unknown time zone 'Mars/Olympus'")
        assertError("CRON_TZ= 0 0 * * *", 8, "missing time zone name after CRON_TZ=")
        assertError("TZ=Europe/Paris", 15, "expected 5 fields, found 0")
    }

    func testErrorDescriptionCarriesTheOffset() {
        XCTAssertEqual(CronError(offset: 2, message: "hour 24 is out of range 0-23").description,
                       "offset 2: hour 24 is out of range 0-23")
    }
}
