import XCTest
@testable import DaemonCore

final class WorkflowLoaderTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func testLoadsEveryKeyOfTheSkeletonSchema() throws {
        let definition = try WorkflowLoader.load(path: fixtures + "/valid/full-skeleton.yaml")
        XCTAssertEqual(definition.name, "full-skeleton")
        XCTAssertEqual(definition.description, "all the keys")
        XCTAssertEqual(definition.spoolFormat, .lines)
        XCTAssertFalse(definition.manualTrigger)
        XCTAssertEqual(definition.concurrency, 3)
        XCTAssertEqual(definition.environment, ["A": "1", "B": "two"])
        XCTAssertEqual(definition.steps.map(\.id), ["first", "second"])
        XCTAssertEqual(definition.steps[0].action, .run(command: "echo one", shell: "/bin/bash"))
        XCTAssertEqual(definition.steps[0].timeout, .seconds(90))
        XCTAssertEqual(definition.steps[0].workingDirectory, "/tmp")
        XCTAssertEqual(definition.steps[0].location, SourceLocation(file: fixtures + "/valid/full-skeleton.yaml", line: 10, column: 5))
        XCTAssertEqual(definition.steps[1].action, .exec(arguments: ["/bin/echo", "two"]))
    }

    func testNameDefaultsToFileStem() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/backup-nightly.yml"
        try "steps:\n  - id: a\n    run: 'true'\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try WorkflowLoader.load(path: path).name, "backup-nightly")
    }

    func testSameMeaningGivesSameVersion() throws {
        let original = try WorkflowLoader.load(path: fixtures + "/valid/original.yaml")
        let reordered = try WorkflowLoader.load(path: fixtures + "/valid/reordered.yaml")
        XCTAssertEqual(original.version, reordered.version)
        XCTAssertEqual(original.version.count, 64)
        let other = try WorkflowLoader.load(path: fixtures + "/valid/full-skeleton.yaml")
        XCTAssertNotEqual(original.version, other.version)
    }

    func testReportsEveryErrorOfAFileWithPositions() {
        let path = fixtures + "/invalid/many-errors.yaml"
        XCTAssertThrowsError(try WorkflowLoader.load(path: path)) { error in
            let messages = (error as! DefinitionErrors).errors.map(\.description)
            XCTAssertEqual(messages, [
                "\(path):1:7: workflow name \"Bad_Name\" is invalid; names match [a-z0-9][a-z0-9_-]{0,63}",
                "\(path):2:14: concurrency must be an integer, found a string",
                "\(path):3:1: unknown key \"colour\" in a workflow; expected one of: name, description, on, concurrency, rate_limit, timeout, owners, env, vars, retry, steps, on_failure, on_success, on_cancel",
                "\(path):5:20: on.spool.format must be one of json, yaml, raw, lines; found \"xml\"",
                "\(path):9:9: duplicate step id \"ok\" (first at line 7)",
                "\(path):11:5: a step needs an \"id\"",
                "\(path):13:5: step \"both\" has both run and exec; a step does exactly one thing",
                "\(path):16:5: step \"neither\" needs an action: one of run, exec, http, set, foreach, sleep, approval, trigger, uses, fail",
                "\(path):19:14: timeout must be a duration like 500ms, 10s, 5m, 2h or 1d",
            ])
        }
    }

    func testSyntaxErrorNamesFileAndLine() {
        let path = fixtures + "/invalid/syntax.yaml"
        XCTAssertThrowsError(try WorkflowLoader.load(path: path)) { error in
            let errors = (error as! DefinitionErrors).errors
            XCTAssertEqual(errors.count, 1)
            XCTAssertTrue(errors[0].description.hasPrefix("\(path):5:"), errors[0].description)
        }
    }

    func testEmptyAndStepLessFiles() {
        XCTAssertThrowsError(try WorkflowLoader.load(path: fixtures + "/invalid/empty.yaml")) { error in
            XCTAssertEqual((error as! DefinitionErrors).description,
                           "\(self.fixtures)/invalid/empty.yaml:1:1: the file holds no workflow (it is empty)")
        }
        XCTAssertThrowsError(try WorkflowLoader.load(path: fixtures + "/invalid/no-steps.yaml")) { error in
            XCTAssertEqual((error as! DefinitionErrors).description,
                           "\(self.fixtures)/invalid/no-steps.yaml:1:1: a workflow needs \"steps\": a list of at least one step")
        }
    }

    func testNameRule() {
        for valid in ["a", "hello", "0day", "nightly-backup", "a_b", String(repeating: "x", count: 64)] {
            XCTAssertTrue(WorkflowLoader.isValidName(valid), valid)
        }
        for invalid in ["", "-a", "_a", "Hello", "a.b", "a b", "ä", String(repeating: "x", count: 65)] {
            XCTAssertFalse(WorkflowLoader.isValidName(invalid), invalid)
        }
    }

    func testDefinitionStoreKeepsLastGoodVersion() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/job.yaml"
        try "steps:\n  - id: a\n    run: echo one\n".write(toFile: path, atomically: true, encoding: .utf8)
        let store = DefinitionStore(directory: directory)
        store.reload()
        let firstVersion = try XCTUnwrap(store.workflows["job"]?.version)

        try "steps:\n  - id: a\n    run: [broken\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (changed, problems) = store.reload()
        XCTAssertTrue(changed.isEmpty)
        XCTAssertEqual(problems.map(\.path), [path])
        XCTAssertEqual(store.workflows["job"]?.version, firstVersion, "an invalid edit must not replace the last good version")

        try FileManager.default.removeItem(atPath: path)
        store.reload()
        XCTAssertNil(store.workflows["job"], "a deleted file removes its workflow")
    }

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "flowd-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
