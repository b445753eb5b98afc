// WallClockTests.swift: the RFC 3339 text the control API and expressions show.

import XCTest
@testable import DaemonCore

final class WallClockTests: XCTestCase {
    func testFormatsUTCWithSixFractionDigits() {
        XCTAssertEqual(WallClock.rfc3339(microseconds: 0), "1970-01-01T00:00:00.000000Z")
        XCTAssertEqual(WallClock.rfc3339(microseconds: 1_795_322_401_123_456), "2026-11-22T04:40:01.123456Z")
        XCTAssertEqual(WallClock.rfc3339(microseconds: 951_782_400_000_007), "2000-02-29T00:00:00.000007Z")
        XCTAssertEqual(WallClock.rfc3339(microseconds: 253_402_300_799_999_999), "9999-12-31T23:59:59.999999Z")
    }

    func testParsesWhatItFormats() {
        for microseconds: Int64 in [0, 1, 999_999, 1_795_322_401_123_456, 4_102_444_800_000_000] {
            XCTAssertEqual(WallClock.parseRFC3339(WallClock.rfc3339(microseconds: microseconds)), microseconds)
        }
    }
}
