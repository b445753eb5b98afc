import XCTest
@testable import DaemonCore

final class ConfigurationTests: XCTestCase {
    func testMissingFileGivesDefaults() throws {
        let configuration = try DaemonConfiguration.load(path: "/nonexistent/flowd.yaml")
        XCTAssertEqual(configuration.maxQueuedRuns, 10_000)
        XCTAssertEqual(configuration.shutdownGrace, .seconds(30))
        XCTAssertEqual(configuration.spoolMaxFileSize, 1024 * 1024)
        XCTAssertEqual(configuration.outputLimit, 64 * 1024)
        XCTAssertGreaterThanOrEqual(configuration.workers, 1)
    }

    func testShippedDefaultConfigurationLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../etc/flowd/flowd.yaml").standardized.path
        XCTAssertNoThrow(try DaemonConfiguration.load(path: path))
    }

    func testKeysAndUnknownKeys() throws {
        let path = NSTemporaryDirectory() + "flowd-config-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
            workers: 3
            spool: { max_file_size: 64KiB, rescan_interval: 5s }
            journal: { synchronous: full }
            log_level: debug
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try DaemonConfiguration.load(path: path)
        XCTAssertEqual(configuration.workers, 3)
        XCTAssertEqual(configuration.spoolMaxFileSize, 65536)
        XCTAssertEqual(configuration.spoolRescanInterval, .seconds(5))
        XCTAssertEqual(configuration.journalSynchronous, .full)
        XCTAssertEqual(configuration.logLevel, .debug)

        try "workers: 2\nwrokers: 3\nspool: { max_file_size: big }\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DaemonConfiguration.load(path: path)) { error in
            XCTAssertEqual((error as! DefinitionErrors).errors.map(\.description), [
                "\(path):2:1: unknown key \"wrokers\" in flowd.yaml; expected one of: workers, max_queued_runs, shutdown_grace, journal, retention, spool, limits, admin_group, read_group, log_level, credentials_dir",
                "\(path):3:25: spool.max_file_size must be a size like 512, 64KiB or 1MiB",
            ])
        }
    }

    func testDurationsAndSizes() {
        XCTAssertEqual(DurationText.parse("500ms"), .milliseconds(500))
        XCTAssertEqual(DurationText.parse("10s"), .seconds(10))
        XCTAssertEqual(DurationText.parse("5m"), .seconds(300))
        XCTAssertEqual(DurationText.parse("2h"), .seconds(7200))
        XCTAssertEqual(DurationText.parse("1d"), .seconds(86400))
        XCTAssertEqual(DurationText.parse("1h30m"), .seconds(5400))
        for bad in ["", "10", "s", "-1s", "1.5s", "1w", "10 s"] { XCTAssertNil(DurationText.parse(bad), bad) }
        XCTAssertEqual(SizeText.parse("512"), 512)
        XCTAssertEqual(SizeText.parse("64KiB"), 65536)
        XCTAssertEqual(SizeText.parse("1MiB"), 1_048_576)
        for bad in ["", "1.5MiB", "1MB", "KiB", "-1"] { XCTAssertNil(SizeText.parse(bad), bad) }
        XCTAssertEqual(DurationText.format(.milliseconds(350)), "350ms")
        XCTAssertEqual(DurationText.format(.milliseconds(1250)), "1.2s")
        XCTAssertEqual(DurationText.format(.seconds(125)), "2m5s")
    }
}
