// RetentionConfigurationTests.swift: the retention keys of flowd.yaml.

import Foundation
import XCTest
@testable import DaemonCore

final class RetentionConfigurationTests: XCTestCase {
    private func load(_ text: String) throws -> DaemonConfiguration {
        let path = NSTemporaryDirectory() + "flowd-retention-config-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try DaemonConfiguration.load(path: path)
    }

    func testDefaultsAndKeys() throws {
        let defaults = DaemonConfiguration()
        XCTAssertEqual(defaults.retentionMaxAge, .seconds(30 * 86_400))
        XCTAssertEqual(defaults.retentionMaxRunsPerWorkflow, 10_000)
        XCTAssertEqual(defaults.retentionInterval, .seconds(60))
        let configuration = try load("retention: { max_age: 7d, max_runs_per_workflow: 50, interval: 5m }\n")
        XCTAssertEqual(configuration.retentionMaxAge, .seconds(7 * 86_400))
        XCTAssertEqual(configuration.retentionMaxRunsPerWorkflow, 50)
        XCTAssertEqual(configuration.retentionInterval, .seconds(300))
    }

    func testAnIntervalTooShortOrUnknownKeyIsAnError() throws {
        XCTAssertThrowsError(try load("retention: { interval: 0s }\n")) { error in
            XCTAssertEqual((error as? DefinitionErrors)?.errors.map(\.message), ["retention.interval must be at least 100ms"])
        }
        XCTAssertThrowsError(try load("retention: { every: 5m }\n")) { error in
            XCTAssertEqual((error as? DefinitionErrors)?.errors.count, 1)
            XCTAssertTrue("\(error)".contains("interval"), "\(error)")
        }
    }
}
