import XCTest
@testable import DaemonCore

final class JSONValueTests: XCTestCase {
    func testIntegralDoubleReadsAsInt() {
        XCTAssertEqual(JSONValue.double(3).intValue, 3)
        XCTAssertNil(JSONValue.double(3.5).intValue)
        XCTAssertEqual(JSONValue(dictionaryLiteral: ("a", 1))["a"], .int(1))
    }
}
