// YAMLCoreSchemaTests.swift: what scalars mean (YAML 1.2 core schema and explicit
// tags), kind names for messages, JSON conversion, and reading definition files.

import XCTest
@testable import DaemonCore

final class YAMLCoreSchemaTests: XCTestCase {
    /// The resolved value of `text` written as the value of key `v`.
    func resolved(_ text: String, line: UInt = #line) throws -> YAMLScalar? {
        let root = try YAMLParser.parse("v: \(text)\n", file: "test.yaml")
        return try XCTUnwrap(root?["v"], "no value for \(text)", line: line).resolvedScalar
    }

    func failure(_ text: String) -> String {
        do {
            _ = try YAMLParser.parse(text, file: "test.yaml")
            return "no error"
        } catch {
            return error.description
        }
    }

    func testPlainScalarResolutionTable() throws {
        let table: [(String, YAMLScalar)] = [
            ("null", .null), ("Null", .null), ("NULL", .null), ("~", .null), ("", .null),
            ("nULL", .string("nULL")),
            ("true", .bool(true)), ("True", .bool(true)), ("TRUE", .bool(true)),
            ("false", .bool(false)), ("False", .bool(false)), ("FALSE", .bool(false)),
            ("on", .string("on")), ("off", .string("off")), ("yes", .string("yes")),
            ("no", .string("no")), ("y", .string("y")), ("n", .string("n")), ("tRUE", .string("tRUE")),
            ("0", .int(0)), ("42", .int(42)), ("-17", .int(-17)), ("+12", .int(12)), ("012", .int(12)),
            ("0o17", .int(15)), ("0x1F", .int(31)), ("0xff", .int(255)),
            ("9223372036854775807", .int(Int64.max)), ("-9223372036854775808", .int(Int64.min)),
            ("1_000", .string("1_000")), ("0o8", .string("0o8")), ("0x", .string("0x")), ("-0x1", .string("-0x1")),
            ("1.5", .double(1.5)), ("-2.", .double(-2)), (".5", .double(0.5)), ("+1.5", .double(1.5)),
            ("1e3", .double(1000)), ("1.5E-3", .double(0.0015)),
            (".inf", .double(.infinity)), ("+.Inf", .double(.infinity)), ("-.INF", .double(-.infinity)),
            (".", .string(".")), ("1e", .string("1e")), ("inf", .string("inf")), ("1.2.3", .string("1.2.3")),
            ("30/min", .string("30/min")), ("2h", .string("2h")), ("hello world", .string("hello world")),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try resolved(text), expected, "plain scalar \"\(text)\"")
        }
        for text in [".nan", ".NaN", ".NAN"] {
            guard case .double(let number) = try resolved(text), number.isNaN else {
                return XCTFail("\(text) is not NaN")
            }
        }
    }

    func testQuotedAndBlockScalarsAreStrings() throws {
        XCTAssertEqual(try resolved("\"42\""), .string("42"))
        XCTAssertEqual(try resolved("'true'"), .string("true"))
        XCTAssertEqual(try resolved("\"null\""), .string("null"))
        XCTAssertEqual(try resolved("''"), .string(""))
        XCTAssertEqual(try resolved("|\n  3.5"), .string("3.5\n"))
        XCTAssertEqual(try resolved(">-\n  7"), .string("7"))
    }

    func testExplicitTagsAreHonoured() throws {
        XCTAssertEqual(try resolved("!!str 42"), .string("42"))
        XCTAssertEqual(try resolved("!!str"), .string(""))
        XCTAssertEqual(try resolved("!!int \"42\""), .int(42))
        XCTAssertEqual(try resolved("!!float 1"), .double(1))
        XCTAssertEqual(try resolved("!!bool 'false'"), .bool(false))
        XCTAssertEqual(try resolved("!!null ''"), .null)
        XCTAssertEqual(try resolved("! 42"), .string("42"))
        let root = try XCTUnwrap(YAMLParser.parse("a: !!str 1\nb: 1\nc: !!map {}\n", file: "test.yaml"))
        XCTAssertEqual(root["a"]?.tag, "tag:yaml.org,2002:str")
        XCTAssertNil(root["b"]?.tag)
        XCTAssertEqual(root["c"]?.tag, "tag:yaml.org,2002:map")
    }

    func testScalarsThatDoNotFitTheirTagAreErrors() {
        XCTAssertEqual(failure("a: 1\nb: !!int abc\n"), "test.yaml:2:4: \"abc\" is not a valid value for tag !!int")
        XCTAssertEqual(failure("b: !!int 1.5\n"), "test.yaml:1:4: \"1.5\" is not a valid value for tag !!int")
        XCTAssertEqual(failure("b: !!bool yes\n"), "test.yaml:1:4: \"yes\" is not a valid value for tag !!bool")
        XCTAssertEqual(failure("b: !!null 0\n"), "test.yaml:1:4: \"0\" is not a valid value for tag !!null")
        XCTAssertEqual(failure("b: !custom x\n"), "test.yaml:1:4: unsupported tag !custom on a scalar")
        XCTAssertEqual(failure("b: !!binary aGk=\n"), "test.yaml:1:4: unsupported tag !!binary on a scalar")
        XCTAssertEqual(failure("b: !!str {a: 1}\n"), "test.yaml:1:4: unsupported tag !!str on a mapping")
        XCTAssertEqual(failure("b: !!map [1]\n"), "test.yaml:1:4: unsupported tag !!map on a sequence")
        XCTAssertEqual(
            failure("b: 9223372036854775808\n"), "test.yaml:1:4: integer 9223372036854775808 does not fit in 64 bits")
    }

    func testKindNames() throws {
        let root = try XCTUnwrap(YAMLParser.parse(
            "m: {}\ns: []\nt: text\nq: '1'\ni: 1\nf: 1.5\nb: true\nn: ~\ne:\n", file: "test.yaml"))
        let kinds = root.pairs?.map { "\($0.key.scalarText ?? "?")=\($0.value.kindName)" }
        XCTAssertEqual(kinds, [
            "m=a mapping", "s=a sequence", "t=a string", "q=a string", "i=a number", "f=a number",
            "b=a boolean", "n=null", "e=null",
        ])
    }

    func testToJSON() throws {
        let root = try XCTUnwrap(YAMLParser.parse("""
            name: nightly-backup
            on:
              spool: { format: json }
              manual: yes
            concurrency: 2
            backoff: 2.0
            owners: [backup-team, "007"]
            description:
            enabled: true
            1: numeric key
            """, file: "nightly-backup.yaml"))
        XCTAssertEqual(root.toJSON(), [
            "name": "nightly-backup",
            "on": ["spool": ["format": "json"], "manual": "yes"],
            "concurrency": 2,
            "backoff": 2.0,
            "owners": ["backup-team", "007"],
            "description": nil,
            "enabled": true,
            "1": "numeric key",
        ])
        XCTAssertEqual(root["concurrency"]?.toJSON(), .int(2))
        XCTAssertEqual(root["backoff"]?.toJSON(), .double(2))
    }

    // MARK: Files

    func testParseFileReadsRegularFilesAndRefusesOthers() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("yaml-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let path = directory + "/flow.yaml"
        try Data("name: flow\nsteps:\n  - run: true\n    run: false\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try YAMLParser.parseFile(atPath: path)) { error in
            XCTAssertEqual((error as? YAMLError)?.description, "\(path):4:5: duplicate key \"run\" (first at line 3)")
        }

        let good = directory + "/good.yaml"
        try Data("name: good\n".utf8).write(to: URL(fileURLWithPath: good))
        let node = try YAMLParser.parseFile(atPath: good)
        XCTAssertEqual(node?["name"]?.location.description, "\(good):1:7")

        XCTAssertThrowsError(try YAMLParser.parseFile(atPath: good, limits: YAMLLimits(maxBytes: 5))) { error in
            XCTAssertEqual(
                (error as? YAMLError)?.description, "\(good):1:1: the file is 11 bytes, over the limit of 5 bytes")
        }
        XCTAssertThrowsError(try YAMLParser.parseFile(atPath: directory)) { error in
            XCTAssertEqual((error as? YAMLError)?.description, "\(directory):1:1: not a regular file")
        }
        let fifo = directory + "/fifo.yaml"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try YAMLParser.parseFile(atPath: fifo)) { error in
            XCTAssertEqual((error as? YAMLError)?.description, "\(fifo):1:1: not a regular file")
        }
        let missing = directory + "/missing.yaml"
        XCTAssertThrowsError(try YAMLParser.parseFile(atPath: missing)) { error in
            XCTAssertEqual(
                (error as? YAMLError)?.description, "\(missing):1:1: cannot open the file: No such file or directory")
        }
    }
}
