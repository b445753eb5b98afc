// ExpressionFunctionTests.swift: every built-in function, its edge cases and its type
// errors, and default() swallowing missing values but not type errors.

import XCTest
@testable import DaemonCore

final class ExpressionFunctionTests: XCTestCase {
    func testLength() {
        XCTAssertEqual(evaluated("len(trigger.name)"), .int(10))
        XCTAssertEqual(evaluated("len('héllo😀')"), .int(6), "characters, not bytes")
        XCTAssertEqual(evaluated("len(trigger.payload.tags)"), .int(2))
        XCTAssertEqual(evaluated("len(run)"), .int(4))
        XCTAssertEqual(evaluated("len('')"), .int(0))
        XCTAssertEqual(evaluationError("len(run.id)"),
                       ExpressionError(offset: 4, message: "len() needs a string, an array or an object, got a number"))
    }

    func testContainsAndAffixes() {
        XCTAssertEqual(evaluated("contains(trigger.payload.tags, 'red')"), .bool(true))
        XCTAssertEqual(evaluated("contains(trigger.name, '.csv')"), .bool(true))
        XCTAssertEqual(evaluated("contains(trigger.payload, 'ratio')"), .bool(true))
        XCTAssertEqual(evaluated("contains('abc', 'abd')"), .bool(false))
        XCTAssertNotNil(evaluationError("contains(1, 1)"))
        XCTAssertEqual(evaluated("startswith(trigger.name, 'report')"), .bool(true))
        XCTAssertEqual(evaluated("startswith(trigger.name, 'csv')"), .bool(false))
        XCTAssertEqual(evaluated("endswith(trigger.name, '.csv')"), .bool(true))
        XCTAssertEqual(evaluated("endswith('a', 'ba')"), .bool(false))
        XCTAssertEqual(evaluated("startswith('x', '')"), .bool(true))
        XCTAssertEqual(evaluationError("endswith(trigger.name, 5)")?.message,
                       "endswith() needs a string as its second argument, got a number")
    }

    func testCase() {
        XCTAssertEqual(evaluated("lower('MiXeD É')"), .string("mixed é"))
        XCTAssertEqual(evaluated("upper(run.workflow)"), .string("INGEST"))
        XCTAssertEqual(evaluationError("upper(null)")?.message, "upper() needs a string, got null")
    }

    func testJSON() {
        XCTAssertEqual(evaluated("json(steps.upload.output)"), .string(#"{"items":[10,20],"status":201}"#))
        XCTAssertEqual(evaluated("json('a\"b')"), .string(#""a\"b""#))
        XCTAssertEqual(evaluated("json(null)"), .string("null"))
        XCTAssertEqual(evaluated("json(1.0)"), .string("1.0"))
    }

    func testBasenameAndDirname() {
        let cases: [(path: String, basename: String, dirname: String)] = [
            ("/a/b/", "b", "/a"), ("/a/b", "b", "/a"), ("file", "file", "."), ("/", "/", "/"),
            ("//", "/", "/"), ("", ".", "."), ("a/", "a", "."), ("/a", "a", "/"), ("a//b", "b", "a"),
            ("dir/sub/é.txt", "é.txt", "dir/sub"),
        ]
        for (path, basename, dirname) in cases {
            XCTAssertEqual(evaluated("basename('\(path)')"), .string(basename), "basename(\(path))")
            XCTAssertEqual(evaluated("dirname('\(path)')"), .string(dirname), "dirname(\(path))")
        }
        XCTAssertEqual(evaluated("basename(trigger.file)"), .string("7.report.csv"))
        XCTAssertNotNil(evaluationError("dirname(trigger.payload.tags)"))
    }

    func testDefaultSwallowsMissingValuesOnly() {
        XCTAssertEqual(evaluated("default(trigger.payload.user, 'nobody')"), .string("ann"))
        XCTAssertEqual(evaluated("default(trigger.payload.nothing, 'nobody')"), .string("nobody"), "null")
        XCTAssertEqual(evaluated("default(trigger.payload.missing, 'nobody')"), .string("nobody"), "missing field")
        XCTAssertEqual(evaluated("default(steps.upload.output.items[5], 0)"), .int(0), "index out of range")
        XCTAssertEqual(evaluated("default(vars.retries, 3)"), .int(3), "unknown root name")
        XCTAssertEqual(evaluated("default(steps['build-image'].output.lines, 0)"), .int(0), "field of null")
        XCTAssertEqual(evaluated("default(default(a.b, c.d), 'last')"), .string("last"))
        XCTAssertEqual(evaluated("default(false, true)"), .bool(false), "only null falls back, not falsy values")
        // A type error is the author's mistake: default() reports it.
        XCTAssertEqual(evaluationError("default(trigger.name.stem, 'x')")?.message,
                       "cannot read field 'stem': trigger.name is a string, not an object")
        XCTAssertNotNil(evaluationError("default(len(5), 0)"))
        XCTAssertNotNil(evaluationError("default(run.id < 'a', 0)"))
        // The fallback itself is not protected.
        XCTAssertNotNil(evaluationError("default(null, nosuch)"))
    }

    func testWrongArgumentTypeIsAnEvaluationErrorAtTheArgument() {
        let error = evaluationError("startswith(run.id, 'x')")
        XCTAssertEqual(error, ExpressionError(offset: 11, message: "startswith() needs a string, got a number"))
    }
}
