// TemplateTests.swift: `{{ }}` in strings: type-preserving single expressions,
// interpolation and how each kind of value renders, template parse errors at offsets
// in the whole string, and the result size limit.

import XCTest
@testable import DaemonCore

final class TemplateTests: XCTestCase {
    private func render(_ text: String, in context: ExpressionContext = sampleContext,
                        file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do {
            return try Template.parse(text).evaluate(in: context)
        } catch {
            XCTFail("\(text): \(error)", file: file, line: line)
            return nil
        }
    }

    func testSingleExpressionKeepsItsType() {
        XCTAssertEqual(render("{{ run.id }}"), .int(42))
        XCTAssertEqual(render("{{run.id}}"), .int(42))
        XCTAssertEqual(render("{{\n  trigger.payload.ratio\n}}"), .double(0.5))
        XCTAssertEqual(render("{{ trigger.size > 1 }}"), .bool(true))
        XCTAssertEqual(render("{{ trigger.payload.tags }}"), ["red", "blue"])
        XCTAssertEqual(render("{{ trigger.payload.nothing }}"), .null)
    }

    func testInterpolationMakesAString() {
        XCTAssertEqual(render("id-{{ run.id }}"), .string("id-42"))
        XCTAssertEqual(render(" {{ run.id }}"), .string(" 42"), "text outside the braces makes it a string")
        XCTAssertEqual(render("{{ run.id }}{{ run.attempt }}"), .string("421"))
        XCTAssertEqual(render("[{{ trigger.payload.nothing }}]"), .string("[]"), "null renders as nothing")
        XCTAssertEqual(render("{{ true }}/{{ trigger.payload.ratio }}/{{ 1.0 }}"), .string("true/0.5/1.0"))
        XCTAssertEqual(render("tags={{ trigger.payload.tags }}"), .string(#"tags=["red","blue"]"#))
        XCTAssertEqual(render("out={{ steps.upload.output }}"), .string(#"out={"items":[10,20],"status":201}"#))
        XCTAssertEqual(render("user {{ trigger.payload.user }}!"), .string("user ann!"), "strings unquoted")
    }

    func testEvaluateToString() throws {
        XCTAssertEqual(try Template.parse("{{ run.id }}").evaluateToString(in: sampleContext), "42")
        XCTAssertEqual(try Template.parse("{{ trigger.payload.nothing }}").evaluateToString(in: sampleContext), "")
        XCTAssertEqual(try Template.parse("{{ trigger.name }}").evaluateToString(in: sampleContext), "report.csv")
        XCTAssertEqual(try Template.parse("n={{ trigger.size }}").evaluateToString(in: sampleContext), "n=2048")
    }

    func testLiteralTextAndBraces() throws {
        let plain = try Template.parse("just text }} and } {")
        XCTAssertTrue(plain.isLiteral)
        XCTAssertEqual(plain.expressions, [])
        XCTAssertEqual(try plain.evaluate(in: sampleContext), .string("just text }} and } {"))
        XCTAssertEqual(try Template.parse("").evaluate(in: sampleContext), .string(""))
        let quoted = try Template.parse("{{ 'a}}b' }}")
        XCTAssertFalse(quoted.isLiteral)
        XCTAssertEqual(try quoted.evaluate(in: sampleContext), .string("a}}b"), "}} inside a string does not close")
    }

    func testExpressionsAndReferences() throws {
        let template = try Template.parse("{{ steps.upload.output.status }} by {{ trigger.name }} ({{ trigger.name }})")
        XCTAssertEqual(template.expressions.map(\.text), ["steps.upload.output.status", "trigger.name", "trigger.name"])
        XCTAssertEqual(template.references, [["steps", "upload", "output", "status"], ["trigger", "name"]])
    }

    func testParseErrorsPointIntoTheTemplate() {
        XCTAssertEqual(templateParseError("x {{ 1 + }} y"),
                       ExpressionError(offset: 7, message: "unexpected character '+'"))
        let missingValue = templateParseError("{{ steps.a.output == }}")
        XCTAssertEqual(missingValue?.offset, 21)
        XCTAssertTrue(missingValue?.message.hasPrefix("expected a value after '=='") == true)
        XCTAssertEqual(templateParseError("ok {{ run.id }} then {{ run.id"),
                       ExpressionError(offset: 21, message: "unclosed '{{': no '}}' after it"))
        XCTAssertEqual(templateParseError("a {{ 'open }}")?.offset, 5, "unterminated string at its quote")
        XCTAssertEqual(templateParseError("abc {{"), ExpressionError(offset: 4, message: "unclosed '{{': no '}}' after it"))
        XCTAssertEqual(templateParseError("{{ a == }"),
                       ExpressionError(offset: 8, message: "unexpected character '}'; an expression ends with '}}'"))
        XCTAssertEqual(templateParseError("{{ }}")?.message, "expected an expression, found '}}'")
        XCTAssertEqual(templateParseError("{{ a b }}")?.message, "expected an operator or '}}', found 'b'")
        XCTAssertEqual(templateParseError("é {{ nope(1) }}")?.offset, 5)
    }

    func testEvaluationErrorsPointIntoTheTemplate() {
        do {
            _ = try Template.parse("status: {{ steps.upload.output.state }}").evaluate(in: sampleContext)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error, ExpressionError(offset: 31, message: "no field 'state' in steps.upload.output"))
        }
    }

    func testExpressionLengthLimitInsideATemplate() {
        let long = "'" + String(repeating: "a", count: ExpressionLimits.maxLength) + "'"
        XCTAssertEqual(templateParseError("abc {{ \(long) }}"),
                       ExpressionError(offset: 6, message: "expression is longer than 4096 characters"))
    }

    func testResultSizeLimit() throws {
        let chunk = String(repeating: "x", count: 300_000)
        let context = ExpressionContext(roots: [
            "big": .string(chunk), "huge": .string(chunk + chunk + chunk + chunk),
            "many": .array(Array(repeating: .string(chunk), count: 4)),
        ])
        let three = try Template.parse("{{ big }}{{ big }}{{ big }}")
        XCTAssertEqual(try three.evaluateToString(in: context).utf8.count, 900_000)
        let four = try Template.parse("{{ big }}{{ big }}{{ big }}{{ big }}")
        XCTAssertThrowsError(try four.evaluate(in: context)) { error in
            XCTAssertEqual((error as? ExpressionError)?.offset, 27, "at the part that crossed the limit")
        }
        XCTAssertThrowsError(try Template.parse("{{ huge }}").evaluate(in: context), "a string result over the limit")
        XCTAssertThrowsError(try Expression.parse("upper(huge)").evaluate(in: context))
        XCTAssertThrowsError(try Expression.parse("  json(many)").evaluate(in: context)) { error in
            XCTAssertEqual(error as? ExpressionError, ExpressionError(
                offset: 2, message: "the result of json() is 1200013 bytes, over the limit of 1048576"))
        }
        XCTAssertEqual(try Expression.parse("len(huge)").evaluate(in: context), .int(1_200_000),
                       "intermediate values are not results")
    }
}
