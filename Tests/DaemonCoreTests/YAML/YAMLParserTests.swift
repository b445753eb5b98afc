// YAMLParserTests.swift: the YAML parser's tree, positions, aliases, merge keys,
// structural errors and limits, as a definition author would meet them.

import XCTest
@testable import DaemonCore

final class YAMLParserTests: XCTestCase {
    /// Parses `text` as "test.yaml", failing the test when it holds no document.
    func parse(_ text: String, limits: YAMLLimits = .default, line: UInt = #line) throws -> YAMLNode {
        let node = try YAMLParser.parse(text, file: "test.yaml", limits: limits)
        return try XCTUnwrap(node, "no document", line: line)
    }

    /// The error parsing `text` throws, as "file:line:column: message".
    func failure(_ text: String, limits: YAMLLimits = .default) -> String {
        do {
            _ = try YAMLParser.parse(text, file: "test.yaml", limits: limits)
            return "no error"
        } catch {
            return error.description
        }
    }

    // MARK: Positions

    func testPositionsOfNestedKeysAndValues() throws {
        let root = try parse("""
            name: demo
            on:
              spool: { format: json }
            steps:
              - id: compress
                run: gzip
            """)
        XCTAssertEqual(root.location.description, "test.yaml:1:1")
        XCTAssertEqual(root["name"]?.location.description, "test.yaml:1:7")
        XCTAssertEqual(root["on"]?.location.description, "test.yaml:3:3")
        XCTAssertEqual(root["on"]?["spool"]?.location.description, "test.yaml:3:10")
        XCTAssertEqual(root["on"]?["spool"]?["format"]?.location.description, "test.yaml:3:20")
        let step = try XCTUnwrap(root["steps"]?.items?.first)
        XCTAssertEqual(step.location.description, "test.yaml:5:5")
        let run = try XCTUnwrap(step.pairs?.last)
        XCTAssertEqual(run.key.location.description, "test.yaml:6:5")
        XCTAssertEqual(run.value.location.description, "test.yaml:6:10")
        XCTAssertEqual(run.value.scalarText, "gzip")
    }

    func testPairsKeepSourceOrderAndStyles() throws {
        let root = try parse("z: plain\ny: 'single'\nx: \"double\"\nw: |\n  line one\n  line two\nv: >\n  folded\n  text\n")
        XCTAssertEqual(root.pairs?.map { $0.key.scalarText }, ["z", "y", "x", "w", "v"])
        XCTAssertEqual(root["w"]?.scalarText, "line one\nline two\n")
        XCTAssertEqual(root["v"]?.scalarText, "folded text\n")
        guard case .scalar(_, .singleQuoted) = root["y"]?.content else { return XCTFail("y is not single-quoted") }
        guard case .scalar(_, .literal) = root["w"]?.content else { return XCTFail("w is not literal") }
        XCTAssertNil(root["missing"])
        XCTAssertNil(root["z"]?["anything"])
    }

    // MARK: Documents

    func testEmptyOrCommentOnlyInputHasNoDocument() throws {
        XCTAssertNil(try YAMLParser.parse("", file: "empty.yaml"))
        XCTAssertNil(try YAMLParser.parse("# only a comment\n\n   # another\n", file: "comments.yaml"))
        XCTAssertNil(try YAMLParser.parse([UInt8](), file: "empty.yaml"))
        // An explicit empty document is a document holding null.
        XCTAssertEqual(try parse("---\n").resolvedScalar, .null)
        XCTAssertEqual(try parse("---\na: 1\n...\n")["a"]?.resolvedScalar, .int(1))
    }

    func testSecondDocumentIsAnErrorAtItsStart() {
        XCTAssertEqual(
            failure("a: 1\n---\nb: 2\n"),
            "test.yaml:2:1: a second document starts here; a file must hold exactly one")
        XCTAssertEqual(
            failure("--- first\n--- second\n"),
            "test.yaml:2:1: a second document starts here; a file must hold exactly one")
    }

    // MARK: Anchors, aliases, merge keys

    func testAliasCopiesTheAnchoredNodeWithItsLocation() throws {
        let root = try parse("base: &b {x: 1, y: [a, b]}\nother: *b\nname: &n hello\ncopy: *n\n")
        XCTAssertEqual(root["other"]?.toJSON(), ["x": 1, "y": ["a", "b"]])
        XCTAssertEqual(root["other"]?.location.description, "test.yaml:1:7")
        XCTAssertEqual(root["copy"]?.scalarText, "hello")
        XCTAssertEqual(root["copy"]?.location.description, "test.yaml:3:7")
    }

    func testUndefinedAliasIsAnErrorAtTheAlias() {
        XCTAssertEqual(failure("a: 1\nb: *nope\n"), "test.yaml:2:4: undefined alias \"nope\"")
        // A node cannot contain an alias to itself.
        XCTAssertEqual(failure("a: &loop [1, *loop]\n"), "test.yaml:1:14: undefined alias \"loop\"")
    }

    func testMergeKeysApplyWithExplicitKeysWinning() throws {
        let root = try parse("""
            defaults: &defaults
              retries: 3
              timeout: 10s
            extra: &extra
              timeout: 20s
              owner: ops
            job:
              <<: [*defaults, *extra]
              retries: 5
              name: j
            single:
              <<: *extra
              owner: dev
            """)
        let job = try XCTUnwrap(root["job"])
        XCTAssertEqual(job.pairs?.map { $0.key.scalarText }, ["timeout", "owner", "retries", "name"])
        XCTAssertEqual(job.toJSON(), ["timeout": "10s", "owner": "ops", "retries": 5, "name": "j"])
        XCTAssertEqual(root["single"]?.toJSON(), ["timeout": "20s", "owner": "dev"])
        XCTAssertNil(job["<<"])
    }

    func testQuotedMergeKeyIsAnOrdinaryKey() throws {
        let root = try parse("\"<<\": {a: 1}\n")
        XCTAssertEqual(root.toJSON(), ["<<": ["a": 1]])
    }

    func testMergeOfANonMappingIsAnError() {
        XCTAssertEqual(
            failure("a:\n  <<: 1\n"),
            "test.yaml:2:7: a merge key takes a mapping or a sequence of mappings, found a number")
        XCTAssertEqual(
            failure("x: &x [1]\na:\n  <<: [*x]\n"),
            "test.yaml:3:7: a merge key takes a mapping or a sequence of mappings, found a sequence holding a sequence")
    }

    // MARK: Keys

    func testDuplicateKeyIsAnErrorAtTheSecondKey() {
        XCTAssertEqual(
            failure("name: a\nsteps:\n  - id: x\n    run: y\n    id: z\n"),
            "test.yaml:5:5: duplicate key \"id\" (first at line 3)")
        XCTAssertEqual(failure("a: 1\n\"a\": 2\n"), "test.yaml:2:1: duplicate key \"a\" (first at line 1)")
        XCTAssertEqual(failure("{a: 1, a: 2}"), "test.yaml:1:8: duplicate key \"a\" (first at line 1)")
    }

    func testNonScalarKeyIsAnError() {
        XCTAssertEqual(failure("? [1]\n: 2\n"), "test.yaml:1:3: a mapping key must be a scalar, found a sequence")
        XCTAssertEqual(failure("{a: 1}: 2\n"), "test.yaml:1:1: a mapping key must be a scalar, found a mapping")
    }

    // MARK: libyaml errors

    func testSyntaxErrorsCarryLibyamlTextAndPosition() {
        XCTAssertEqual(
            failure("a:\n  b: 1\n c: 2\n"),
            "test.yaml:3:2: did not find expected key (while parsing a block mapping at line 1)")
        XCTAssertEqual(failure("a: 1\n b: 2\n"), "test.yaml:2:3: mapping values are not allowed in this context")
        XCTAssertEqual(
            failure("a: [1, 2\n"),
            "test.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at line 1)")
    }

    func testInvalidUTF8IsReportedAtTheByte() {
        XCTAssertThrowsError(try YAMLParser.parse([0x61, 0x3A, 0x20, 0xFF, 0x0A], file: "bad.yaml")) { error in
            XCTAssertEqual((error as? YAMLError)?.description, "bad.yaml:1:4: invalid leading UTF-8 octet (byte 0xFF)")
        }
        let truncated: [UInt8] = Array("a:\n  é: ".utf8) + [0xC3]
        XCTAssertThrowsError(try YAMLParser.parse(truncated, file: "bad.yaml")) { error in
            XCTAssertEqual((error as? YAMLError)?.description, "bad.yaml:2:6: incomplete UTF-8 octet sequence")
        }
    }

    // MARK: Limits

    func testBillionLaughsFailsFast() {
        var text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            let aliases = Array(repeating: "*\(previous)", count: 9).joined(separator: ", ")
            text += "\(name): &\(name) [\(aliases)]\n"
        }
        let clock = ContinuousClock()
        var message = ""
        let elapsed = clock.measure { message = failure(text) }
        // Sizes: a 10, b 91, c 820, d 7381, e 66430; with e the document holds 74738
        // nodes, so the first alias of f crosses 100000.
        XCTAssertEqual(message, "test.yaml:6:8: the document expands to more than 100000 nodes (aliases included)")
        XCTAssertLessThan(elapsed, .milliseconds(500))

        let small = YAMLLimits(maxNodes: 50)
        XCTAssertEqual(
            failure(text, limits: small), "test.yaml:2:20: the document expands to more than 50 nodes (aliases included)")
    }

    func testNodeLimitCountsEveryNode() throws {
        let limits = YAMLLimits(maxNodes: 4)
        XCTAssertEqual(try parse("[1, 2, 3]", limits: limits).items?.count, 3)
        XCTAssertEqual(
            failure("[1, 2, 3, 4]", limits: limits),
            "test.yaml:1:11: the document expands to more than 4 nodes (aliases included)")
    }

    func testDepthLimit() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNotNil(try parse(deepest))
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertEqual(failure(tooDeep), "test.yaml:1:65: nesting is deeper than the limit of 64 levels")
        // A huge nesting fails at the first level too many, not after reading it all.
        let huge = String(repeating: "[", count: 200_000)
        XCTAssertEqual(failure(huge), "test.yaml:1:65: nesting is deeper than the limit of 64 levels")
        // Alias copies count toward the depth where they land.
        let limits = YAMLLimits(maxDepth: 3)
        XCTAssertEqual(
            failure("a: &a [[1]]\nb: [*a]\n", limits: limits),
            "test.yaml:2:5: nesting is deeper than the limit of 3 levels")
        XCTAssertNotNil(try parse("a: &a [[1]]\nb: *a\n", limits: limits))
    }

    func testSizeLimit() {
        let limits = YAMLLimits(maxBytes: 10)
        XCTAssertEqual(
            failure("a: 12345678\n", limits: limits),
            "test.yaml:1:1: the input is 12 bytes, over the limit of 10 bytes")
        XCTAssertEqual(failure("a: 1234\n", limits: limits), "no error")
    }
}
