// JSONCodingTests.swift: parsing and serializing JSON text exactly.
import XCTest

@testable import DaemonCore

final class JSONCodingTests: XCTestCase {
    private func parseError(_ text: String, maxDepth: Int = 128) -> JSONError? {
        do {
            _ = try JSONValue.parse(text, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(bytes: [UInt8]) -> JSONError? {
        do {
            _ = try JSONValue.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    func testIntegersAndDoublesStayApart() throws {
        XCTAssertEqual(try JSONValue.parse("1"), .int(1))
        XCTAssertEqual(try JSONValue.parse("1.0"), .double(1))
        XCTAssertEqual(try JSONValue.parse("-0"), .int(0))
        XCTAssertEqual(try JSONValue.parse("1e2"), .double(100))
        XCTAssertEqual(try JSONValue.parse("true"), .bool(true))
        XCTAssertEqual(try JSONValue.parse("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try JSONValue.parse("-9223372036854775808"), .int(Int64.min))
        XCTAssertEqual(try JSONValue.parse("9223372036854775808"), .double(9_223_372_036_854_775_808))
        XCTAssertEqual(JSONValue.int(1).serialized(), "1")
        XCTAssertEqual(JSONValue.double(1).serialized(), "1.0")
        XCTAssertEqual(JSONValue.double(0.1).serialized(), "0.1")
        XCTAssertEqual(JSONValue.double(-2.5).serialized(), "-2.5")
        XCTAssertEqual(JSONValue.double(.nan).serialized(), "null")
        XCTAssertEqual(JSONValue.double(.infinity).serialized(), "null")
    }

    func testCompactSerializationSortsKeysByBytes() {
        let value: JSONValue = ["b": 1, "a": [true, nil, 2.5], "B": "x", "é": [:], "aa": []]
        XCTAssertEqual(value.serialized(), #"{"B":"x","a":[true,null,2.5],"aa":[],"b":1,"é":{}}"#)
        XCTAssertEqual(value.serializedBytes(), Array(value.serialized().utf8))
    }

    func testPrettySerialization() {
        let value: JSONValue = ["name": "x", "list": [1, ["k": false]], "empty": [:]]
        let expected = """
            {
              "empty": {},
              "list": [
                1,
                {
                  "k": false
                }
              ],
              "name": "x"
            }
            """
        XCTAssertEqual(value.serialized(pretty: true), expected)
    }

    func testStringEscapes() throws {
        let text = "quote\" back\\ slash/ nl\n tab\t bell\u{07} del\u{7F} é 😀"
        let serialized = JSONValue.string(text).serialized()
        XCTAssertEqual(serialized, #""quote\" back\\ slash/ nl\n tab\t bell\u0007 del"# + "\u{7F} é 😀\"")
        XCTAssertEqual(try JSONValue.parse(serialized), .string(text))
        XCTAssertEqual(try JSONValue.parse(#""\u00e9\/\b\f\r""#), .string("é/\u{08}\u{0C}\r"))
    }

    func testSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue.parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSONValue.parse(#""\uD834\uDD1E""#), .string("𝄞"))
        XCTAssertEqual(parseError(#""\ud83d""#)?.message, "lone high surrogate")
        XCTAssertEqual(parseError(#""\ud83d\u0041""#)?.message, "lone high surrogate")
        XCTAssertEqual(parseError(#"  "\ude00""#)?.offset, 3)
    }

    func testInvalidUTF8IsRefused() {
        XCTAssertEqual(parseError(bytes: [0x22, 0x61, 0xFF, 0x22])?.offset, 2)
        XCTAssertNotNil(parseError(bytes: [0x22, 0xC0, 0xAF, 0x22]), "overlong encoding")
        XCTAssertNotNil(parseError(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22]), "encoded surrogate")
        XCTAssertNotNil(parseError(bytes: [0x22, 0xE2, 0x82, 0x22]), "truncated sequence")
        XCTAssertEqual(try JSONValue.parse([0x22, 0xE2, 0x82, 0xAC, 0x22]), .string("€"))
    }

    func testRoundTrips() throws {
        let values: [JSONValue] = [
            .null, true, false, 0, -17, .int(Int64.max), 1.5, 1e300, .double(.leastNonzeroMagnitude), 123456789.125,
            "", "text with \u{0}", ["nested": ["deep": [1, 2.0, "3", nil]]], [], [:],
        ]
        for value in values {
            XCTAssertEqual(try JSONValue.parse(value.serialized()), value, value.serialized())
            XCTAssertEqual(try JSONValue.parse(value.serialized(pretty: true)), value)
        }
    }

    func testWhitespaceAndDuplicateKeys() throws {
        XCTAssertEqual(try JSONValue.parse(" \n\t{ \"a\" : 1 , \"a\" : 2 }\r\n"), ["a": 2])
    }

    func testErrorsCarryOffsets() {
        let missingColon = parseError(#"{"key" 1}"#)
        XCTAssertEqual(missingColon?.offset, 7)
        XCTAssertEqual(missingColon?.description, "invalid JSON at byte 7: expected ':'")
        XCTAssertEqual(parseError("[1,2")?.offset, 4)
        XCTAssertEqual(parseError("[1,]")?.offset, 3)
        XCTAssertEqual(parseError("01")?.message, "leading zeros are not allowed")
        XCTAssertEqual(parseError("1 2")?.message, "unexpected data after the value")
        XCTAssertEqual(parseError("")?.offset, 0)
        XCTAssertEqual(parseError("nul")?.message, "invalid literal")
        XCTAssertEqual(parseError("\"a\nb\"")?.offset, 2)
        XCTAssertEqual(parseError(#""\x""#)?.message, "invalid escape")
        XCTAssertEqual(parseError("1.")?.offset, 2)
        XCTAssertEqual(parseError("-")?.offset, 1)
        XCTAssertEqual(parseError("1e400")?.message, "number out of range")
        XCTAssertNotNil(parseError("{1:2}"))
        XCTAssertNotNil(parseError("NaN"))
    }

    func testDepthLimit() {
        XCTAssertNoThrow(try JSONValue.parse(String(repeating: "[", count: 5) + String(repeating: "]", count: 5), maxDepth: 5))
        XCTAssertEqual(parseError(String(repeating: "[", count: 6) + String(repeating: "]", count: 6), maxDepth: 5)?.offset, 5)
        let deep = String(repeating: "{\"a\":", count: 100_000)
        XCTAssertEqual(parseError(deep)?.message, "nesting deeper than 128")
    }

    /// Canonical forms (and so definition versions) depend on this exact text: keys in
    /// UTF-8 byte order (a prefix first, non-ASCII after ASCII, "Z" before "a"), strings
    /// copied as they are unless they hold a quote, a backslash or a control character.
    func testSerializationKeyOrderAndEscapesAreByteExact() {
        let value: JSONValue = .object([
            "é": 1, "z": 2, "Z": 3, "ab": 4, "a": 5, "": 6, "a\u{0}": 7,
            "text": .string("plain / ünïcode"), "esc": .string("q\"b\\n\nt\tc\u{1}"),
        ])
        XCTAssertEqual(value.serialized(),
                       #"{"":6,"Z":3,"a":5,"a\u0000":7,"ab":4,"esc":"q\"b\\n\nt\tc\u0001","text":"plain / ünïcode","z":2,"é":1}"#)
    }
}
