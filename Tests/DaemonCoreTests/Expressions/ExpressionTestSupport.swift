// ExpressionTestSupport.swift: the sample run data and small helpers the expression
// tests share.

import XCTest
@testable import DaemonCore

/// Run data shaped like the engine's: a trigger, the run, two steps, env and a foreach item.
let sampleContext = ExpressionContext(roots: [
    "trigger": [
        "name": "report.csv", "file": "/var/spool/flowd/active/ingest/7.report.csv", "size": 2048,
        "payload": ["user": "ann", "tags": ["red", "blue"], "nothing": nil, "ratio": 0.5, "count": 3,
                    "odd key": "spaced"],
    ],
    "run": ["id": 42, "workflow": "ingest", "status": "running", "attempt": 1],
    "steps": [
        "upload": ["status": "succeeded", "exit_code": 0, "output": ["status": 201, "items": [10, 20]]],
        "build-image": ["status": "failed", "exit_code": 2, "output": nil],
    ],
    "env": ["HOME": "/root", "EMPTY": ""],
    "item": "x",
    "index": 1,
])

/// The value of one expression against `context`; fails the test on an error.
func evaluated(_ text: String, in context: ExpressionContext = sampleContext,
               file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
    do {
        return try Expression.parse(text).evaluate(in: context)
    } catch {
        XCTFail("\(text): \(error)", file: file, line: line)
        return nil
    }
}

/// The parse error of `text`, or nil (and a test failure) when it parses.
func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ExpressionError? {
    do {
        _ = try Expression.parse(text)
        XCTFail("\(text) parsed, expected an error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The evaluation error of `text` (which must parse), or nil (and a test failure).
func evaluationError(_ text: String, in context: ExpressionContext = sampleContext,
                     file: StaticString = #filePath, line: UInt = #line) -> ExpressionError? {
    do {
        let expression = try Expression.parse(text)
        let value = try expression.evaluate(in: context)
        XCTFail("\(text) evaluated to \(value), expected an error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The parse error of template `text`, or nil (and a test failure).
func templateParseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ExpressionError? {
    do {
        _ = try Template.parse(text)
        XCTFail("template \(text) parsed, expected an error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}
