// FixtureCorpusTests.swift: every invalid fixture fails with exactly its expected errors.
//
// Each `Fixtures/invalid/NAME.yaml` has a sibling `NAME.expected`: one error per line as
// `line:column: message`, in the order flowadm prints them (the file path is left out).
// FLOWD_RECORD_FIXTURES=1 writes the .expected files from the current loader, for
// review; a normal run only compares.

import XCTest
@testable import DaemonCore

final class FixtureCorpusTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func testEveryInvalidFixtureReportsExactlyItsExpectedErrors() throws {
        let directory = Self.fixtures + "/invalid"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 60)
        let recording = ProcessInfo.processInfo.environment["FLOWD_RECORD_FIXTURES"] == "1"
        for name in names {
            let path = directory + "/" + name
            let expectedPath = path.dropLast(".yaml".count) + ".expected"
            var actual: [String] = []
            do {
                let definition = try WorkflowLoader.load(path: path)
                XCTFail("\(name) loaded as workflow \(definition.name); it must fail")
                continue
            } catch {
                actual = error.errors.map { "\($0.location.line):\($0.location.column): \($0.message)" }
                XCTAssertTrue(error.errors.allSatisfy { $0.location.file == path }, name)
            }
            if recording {
                try (actual.joined(separator: "\n") + "\n").write(toFile: String(expectedPath), atomically: true, encoding: .utf8)
                continue
            }
            guard let expected = try? String(contentsOfFile: String(expectedPath), encoding: .utf8) else {
                XCTFail("\(name) has no \(expectedPath.split(separator: "/").last!)")
                continue
            }
            XCTAssertEqual(actual, expected.split(separator: "\n").map(String.init), name)
        }
    }

    func testEveryValidFixtureLoads() throws {
        let directory = Self.fixtures + "/valid"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 20)
        for name in names {
            XCTAssertNoThrow(try WorkflowLoader.load(path: directory + "/" + name), name)
        }
    }

    func testHugeFileIsRefusedBeforeParsing() throws {
        let path = NSTemporaryDirectory() + "flowd-huge-\(UUID().uuidString).yaml"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        var text = "steps:\n  - id: a\n    run: echo a\nvars:\n"
        while text.utf8.count <= 1 << 20 { text += "  v\(text.utf8.count): \(String(repeating: "x", count: 100))\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkflowLoader.load(path: path)) { error in
            let errors = (error as! DefinitionErrors).errors
            XCTAssertEqual(errors.map(\.description), ["\(path):1:1: the file is \(text.utf8.count) bytes, over the limit of 1048576 bytes"])
        }
    }

    func testDirectoryAndMissingFileAreReportedNotCrashed() {
        for path in ["/", "/nonexistent/flowd/workflow.yaml"] {
            XCTAssertThrowsError(try WorkflowLoader.load(path: path)) { error in
                let errors = (error as! DefinitionErrors).errors
                XCTAssertEqual(errors.count, 1)
                XCTAssertEqual(errors.first?.location, SourceLocation(file: path, line: 1, column: 1))
            }
        }
    }
}
