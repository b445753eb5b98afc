// LoaderBenchmarkTests.swift: loading 1,000 definition files, timed (not a test of speed).
//
// Skipped unless FLOWD_BENCH=1. Writes 1,000 varied workflows (each ~40 lines, every
// step kind, expressions, a schedule) to a temporary directory, loads them through
// DefinitionStore.reload (the daemon's path) and prints the time.

import XCTest
@testable import DaemonCore

final class LoaderBenchmarkTests: XCTestCase {
    func testLoadingAThousandDefinitions() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["FLOWD_BENCH"] == "1", "set FLOWD_BENCH=1 to run")
        let directory = NSTemporaryDirectory() + "flowd-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let template = try String(contentsOfFile: FixtureCorpusTests.fixtures + "/valid/spec-example.yaml", encoding: .utf8)
        for index in 0..<1000 {
            let text = template.replacingOccurrences(of: "name: nightly-backup", with: "name: flow-\(index)")
                .replacingOccurrences(of: "timeout: 10m", with: "timeout: \(index + 1)m")
                + "  - id: loop\n    foreach: \"{{ trigger.payload.files }}\"\n    parallel: 2\n    do:\n"
                + "      - id: each\n        run: echo \"{{ item }} {{ index }} {{ steps.compress.output }}\"\n"
            try text.write(toFile: "\(directory)/flow-\(index).yaml", atomically: false, encoding: .utf8)
        }
        let store = DefinitionStore(directory: directory)
        let start = ContinuousClock.now
        let (changed, problems) = store.reload()
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(problems.count, 0)
        XCTAssertEqual(changed.count, 1000)
        let versionStart = ContinuousClock.now
        let versions = Set(store.workflows.values.map(\.computedVersion))
        let versionElapsed = ContinuousClock.now - versionStart
        XCTAssertEqual(versions.count, 1000)
        print("BENCH loaded 1000 definitions in \(elapsed) (\(elapsed / 1000) each); canonical form + SHA-256 of all 1000 in \(versionElapsed)")
    }
}
