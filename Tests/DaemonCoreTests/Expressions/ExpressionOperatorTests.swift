// ExpressionOperatorTests.swift: comparison, logic and `in`, with the truthiness table
// and the errors for comparing unlike things.

import XCTest
@testable import DaemonCore

final class ExpressionOperatorTests: XCTestCase {
    func testEquality() {
        XCTAssertEqual(evaluated("1 == 1.0"), .bool(true))
        XCTAssertEqual(evaluated("1.5 == 1"), .bool(false))
        XCTAssertEqual(evaluated("'a' == 'a'"), .bool(true))
        XCTAssertEqual(evaluated("'1' == 1"), .bool(false), "no conversion between strings and numbers")
        XCTAssertEqual(evaluated("null == null"), .bool(true))
        XCTAssertEqual(evaluated("trigger.payload.nothing == null"), .bool(true))
        XCTAssertEqual(evaluated("0 == false"), .bool(false))
        XCTAssertEqual(evaluated("run.status != 'done'"), .bool(true))
        XCTAssertEqual(evaluated("steps.upload.output.items == steps.upload.output.items"), .bool(true))
        let context = ExpressionContext(roots: ["a": ["x": [1, 2.0, ["k": nil]]], "b": ["x": [1.0, 2, ["k": nil]]]])
        XCTAssertEqual(evaluated("a == b", in: context), .bool(true), "deep equality, numbers by value")
        XCTAssertEqual(evaluated("a.x[2] == b", in: context), .bool(false))
    }

    func testOrdering() {
        XCTAssertEqual(evaluated("'a' < 'b'"), .bool(true))
        XCTAssertEqual(evaluated("'B' < 'a'"), .bool(true), "by Unicode scalar, uppercase first")
        XCTAssertEqual(evaluated("'ab' < 'abc'"), .bool(true))
        XCTAssertEqual(evaluated("'b' <= 'b'"), .bool(true))
        XCTAssertEqual(evaluated("trigger.size > 1024"), .bool(true))
        XCTAssertEqual(evaluated("1 < 1.5"), .bool(true))
        XCTAssertEqual(evaluated("2 >= 2.0"), .bool(true))
        XCTAssertEqual(evaluated("-3 > -2"), .bool(false))
        XCTAssertEqual(evaluated("1 <= 0"), .bool(false))
    }

    func testOrderingUnlikeValuesIsAnError() {
        let error = evaluationError("run.workflow < 5")
        XCTAssertEqual(error?.offset, 13, "at the operator")
        XCTAssertTrue(error?.message.hasPrefix("cannot compare a string with a number") == true, "\(String(describing: error))")
        XCTAssertEqual(evaluationError("true > false")?.message.hasPrefix("cannot compare a bool with a bool"), true)
        XCTAssertNotNil(evaluationError("null < 1"))
        XCTAssertNotNil(evaluationError("trigger.payload.tags < trigger.payload.tags"))
    }

    func testTruthiness() {
        let falsy = ["false", "null", "0", "0.0", "''", "trigger.payload.nothing", "env.EMPTY", "steps.build-image.output"]
        for text in falsy {
            XCTAssertEqual(evaluated("!\(text)"), .bool(true), text)
        }
        let context = ExpressionContext(roots: ["emptyArray": [], "emptyObject": [:], "array": [0], "object": ["a": nil]])
        XCTAssertEqual(evaluated("!emptyArray", in: context), .bool(true))
        XCTAssertEqual(evaluated("!emptyObject", in: context), .bool(true))
        XCTAssertEqual(evaluated("!!array", in: context), .bool(true), "[0] is not empty")
        XCTAssertEqual(evaluated("!!object", in: context), .bool(true))
        for text in ["true", "1", "-1", "0.1", "' '", "'false'", "run"] {
            XCTAssertEqual(evaluated("!!\(text)"), .bool(true), text)
        }
    }

    func testLogicResultsAreBoolsAndShortCircuit() {
        XCTAssertEqual(evaluated("1 && 'x'"), .bool(true))
        XCTAssertEqual(evaluated("run.id && ''"), .bool(false))
        XCTAssertEqual(evaluated("0 || null"), .bool(false))
        XCTAssertEqual(evaluated("0 || 'x'"), .bool(true))
        // The right side would fail (unknown name); short-circuit never evaluates it.
        XCTAssertEqual(evaluated("false && nosuch.thing"), .bool(false))
        XCTAssertEqual(evaluated("true || nosuch.thing"), .bool(true))
        XCTAssertNotNil(evaluationError("true && nosuch.thing"))
    }

    func testPrecedence() {
        XCTAssertEqual(evaluated("true || false && false"), .bool(true), "&& binds tighter than ||")
        XCTAssertEqual(evaluated("(true || false) && false"), .bool(false))
        XCTAssertEqual(evaluated("1 == 1 && 2 == 2"), .bool(true), "comparison binds tighter than &&")
        XCTAssertEqual(evaluated("!false == true"), .bool(true), "! binds tighter than ==")
        XCTAssertEqual(evaluated("!(1 == 2)"), .bool(true))
    }

    func testInOnArraysStringsAndObjects() {
        XCTAssertEqual(evaluated("'blue' in trigger.payload.tags"), .bool(true))
        XCTAssertEqual(evaluated("'green' in trigger.payload.tags"), .bool(false))
        XCTAssertEqual(evaluated("20.0 in steps.upload.output.items"), .bool(true), "element equality is numeric")
        XCTAssertEqual(evaluated("'port' in 'report.csv'"), .bool(true))
        XCTAssertEqual(evaluated("'' in 'abc'"), .bool(true))
        XCTAssertEqual(evaluated("'abd' in 'abcabd'"), .bool(true))
        XCTAssertEqual(evaluated("'aab' in 'aaab'"), .bool(true), "a partial match that restarts inside itself")
        XCTAssertEqual(evaluated("'abab' in 'abaabab'"), .bool(true))
        XCTAssertEqual(evaluated("'csvx' in trigger.name"), .bool(false))
        XCTAssertEqual(evaluated("'user' in trigger.payload"), .bool(true))
        XCTAssertEqual(evaluated("'ann' in trigger.payload"), .bool(false), "object membership is by key")
        XCTAssertTrue(evaluationError("1 in 'abc'")?.message.contains("needs a string to look for") == true)
        XCTAssertTrue(evaluationError("'a' in 5")?.message.contains("got a number") == true)
        XCTAssertEqual(evaluationError("'a' in 5")?.offset, 4)
    }

    func testPathErrorsNameThePath() {
        XCTAssertEqual(evaluationError("steps.upload.output.state"),
                       ExpressionError(offset: 20, message: "no field 'state' in steps.upload.output"))
        XCTAssertEqual(evaluationError("steps.upload.output.items[2]")?.message,
                       "index 2 out of range (length 2) in steps.upload.output.items")
        XCTAssertEqual(evaluationError("steps.upload.output.items[-1]")?.message,
                       "index -1 out of range (length 2) in steps.upload.output.items")
        XCTAssertEqual(evaluationError("steps['build-image'].output.lines")?.message,
                       "no field 'lines' in steps.build-image.output: it is null")
        XCTAssertEqual(evaluationError("trigger.name.stem")?.message,
                       "cannot read field 'stem': trigger.name is a string, not an object")
        XCTAssertEqual(evaluationError("trigger.payload['odd key'].x")?.message,
                       #"cannot read field 'x': trigger.payload["odd key"] is a string, not an object"#)
        XCTAssertEqual(evaluationError("trigger.payload.tags[true]")?.message,
                       "an index must be a number or a string, got a bool (in trigger.payload.tags)")
        XCTAssertEqual(evaluationError("trigger.payload.tags[0.5]")?.offset, 21)
        XCTAssertTrue(evaluationError("lower('A').x")?.message.contains("lower('A') is a string") == true)
        let unknown = evaluationError("  nosuch.thing")
        XCTAssertEqual(unknown?.offset, 2)
        XCTAssertTrue(unknown?.message.hasPrefix("unknown name 'nosuch'; known: env, index, item, run, steps, trigger") == true)
    }
}
