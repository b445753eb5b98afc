// ExpressionParsingTests.swift: literals, paths, references, parse errors with their
// exact offsets, and the length and nesting limits.

import XCTest
@testable import DaemonCore

final class ExpressionParsingTests: XCTestCase {
    func testLiterals() {
        XCTAssertEqual(evaluated("42"), .int(42))
        XCTAssertEqual(evaluated("-7"), .int(-7))
        XCTAssertEqual(evaluated("- 7"), .int(-7))
        XCTAssertEqual(evaluated("-9223372036854775808"), .int(.min))
        XCTAssertEqual(evaluated("2.5"), .double(2.5))
        XCTAssertEqual(evaluated("-1.5e3"), .double(-1500))
        XCTAssertEqual(evaluated("true"), .bool(true))
        XCTAssertEqual(evaluated("false"), .bool(false))
        XCTAssertEqual(evaluated("null"), .null)
        XCTAssertEqual(evaluated("'single'"), .string("single"))
        XCTAssertEqual(evaluated("\"double\""), .string("double"))
    }

    func testStringEscapes() {
        XCTAssertEqual(evaluated(#""a\nb\tc\\d\'e\"f""#), .string("a\nb\tc\\d'e\"f"))
        XCTAssertEqual(evaluated(#"'\u00e9\u0041'"#), .string("éA"))
        XCTAssertEqual(evaluated(#"'\ud83d\ude00'"#), .string("😀"))
    }

    func testPathsAndIndexing() {
        XCTAssertEqual(evaluated("run.id"), .int(42))
        XCTAssertEqual(evaluated("steps.upload.output.status"), .int(201))
        XCTAssertEqual(evaluated("steps.upload.output.items[1]"), .int(20))
        XCTAssertEqual(evaluated("trigger.payload['user']"), .string("ann"))
        XCTAssertEqual(evaluated("trigger.payload[\"odd key\"]"), .string("spaced"))
        XCTAssertEqual(evaluated("trigger.payload.tags[index]"), .string("blue"))
        XCTAssertEqual(evaluated("steps['build-image'].status"), .string("failed"))
        XCTAssertEqual(evaluated("steps.build-image.status"), .string("failed"), "ids with '-' read as names")
        XCTAssertEqual(evaluated(" ( steps . upload . output ) [ 'items' ] [ 0 ] "), .int(10))
        XCTAssertEqual(evaluated("trigger.payload.tags[1.0]"), .string("blue"))
        XCTAssertEqual(evaluated("trigger.payload.nothing"), .null)
    }

    func testReferences() throws {
        let expression = try Expression.parse(
            "steps.upload.output.status == 201 && trigger.name in env.LIST || len(steps['build-image'].output) > 0")
        XCTAssertEqual(expression.references, [
            ["steps", "upload", "output", "status"], ["trigger", "name"], ["env", "LIST"],
            ["steps", "build-image", "output"],
        ])
        XCTAssertEqual(try Expression.parse("a.b[0].c[x.y].d").references, [["a", "b", "0", "c"], ["x", "y"]])
        XCTAssertEqual(try Expression.parse("run.id == run.id").references, [["run", "id"]])
        XCTAssertEqual(try Expression.parse("'text' == 1").references, [])
        XCTAssertEqual(try Expression.parse("default(vars.retries, 3)").references, [["vars", "retries"]])
    }

    func testMalformedExpressionsPointAtTheOffendingCharacter() {
        let cases: [(text: String, offset: Int, message: String)] = [
            ("steps.a.output == ", 18, "expected a value after '=='"),
            ("1 + 2", 2, "unexpected character '+'"),
            ("'abc", 0, "unterminated string"),
            ("x == \"abc", 5, "unterminated string"),
            ("'a\\qb'", 2, "unknown escape '\\q'"),
            ("a = 1", 2, "use '==' to compare"),
            ("a & b", 2, "use '&&'"),
            ("(a == 1", 7, "expected ')' to close the '(' at offset 0"),
            ("a[0", 3, "expected ']'"),
            ("foo(1)", 0, "unknown function 'foo'; known: basename, contains, default, dirname"),
            ("x && len(a, b)", 5, "len() takes 1 argument, got 2"),
            ("startswith('a')", 0, "startswith() takes 2 arguments, got 1"),
            ("'it''s'", 4, "expected an operator or the end of the expression, found a string"),
            ("a b", 2, "expected an operator or the end of the expression, found 'b'"),
            ("a.", 2, "expected a field name after '.'"),
            ("a < b < c", 6, "comparisons cannot be chained"),
            ("", 0, "expected an expression"),
            ("!", 1, "expected a value after '!'"),
            ("x in", 4, "expected a value after 'in'"),
            ("99999999999999999999", 0, "does not fit in 64 bits"),
            ("- x", 2, "expected a number after '-'"),
            ("'\\u12'", 1, "four hex digits"),
            ("a }}", 2, "unexpected character '}'"),
        ]
        for (text, offset, message) in cases {
            guard let error = parseError(text) else { continue }
            XCTAssertEqual(error.offset, offset, "offset for \(text): \(error)")
            XCTAssertTrue(error.message.contains(message), "message for \(text): \(error.message)")
        }
    }

    func testOffsetsCountCharactersNotBytes() {
        XCTAssertEqual(parseError("'é😀' + 1")?.offset, 5)
    }

    func testLengthLimit() throws {
        let atLimit = "'" + String(repeating: "a", count: ExpressionLimits.maxLength - 2) + "'"
        XCTAssertNoThrow(try Expression.parse(atLimit))
        let error = parseError(atLimit + " ")
        XCTAssertEqual(error?.offset, 0)
        XCTAssertEqual(error?.message, "expression is longer than 4096 characters")
    }

    func testNestingLimit() throws {
        let depth = ExpressionLimits.maxDepth
        let deepest = String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth)
        XCTAssertEqual(try Expression.parse(deepest).evaluate(in: sampleContext), .int(1))
        let tooDeep = String(repeating: "(", count: depth + 1) + "1" + String(repeating: ")", count: depth + 1)
        XCTAssertEqual(parseError(tooDeep), ExpressionError(offset: depth, message: "expression is nested deeper than 64 levels"))
        XCTAssertNotNil(parseError(String(repeating: "!", count: depth + 1) + "true"))
        XCTAssertNotNil(parseError(String(repeating: "len(", count: depth + 1) + "'a'" + String(repeating: ")", count: depth + 1)))
        // Long flat chains are not nesting: 500 operands of && parse and evaluate.
        let chain = Array(repeating: "true", count: 500).joined(separator: " && ")
        XCTAssertEqual(try Expression.parse(chain).evaluate(in: sampleContext), .bool(true))
    }
}
