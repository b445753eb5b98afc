// DaemonLoggerTests.swift: what an admin sees on stderr and what journald is handed:
// line format, level filtering, routing (automatic, both, journald only), and the
// fallback to stderr when journald is absent or refuses. stderr is a pipe here and
// journald a recording stand-in; JournaldTests covers a real journald.

import Foundation
import Synchronization
import XCTest
@testable import DaemonCore

final class DaemonLoggerTests: XCTestCase {
    private var standardError: StandardErrorCapturePipe!
    private var journal: RecordingJournalStandIn!

    override func setUpWithError() throws {
        standardError = try StandardErrorCapturePipe()
        journal = RecordingJournalStandIn()
    }

    override func tearDown() {
        standardError = nil
        journal = nil
    }

    func testStandardErrorLineShowsLevelMessageAndFlowdFields() {
        let logger = makeLogger(.standardError)
        logger.notice("run finished", id: .runFinished, fields: [
            "FLOWD_WORKFLOW": "hello", "FLOWD_RUN": "42", "OTHER_FIELD": "hidden", "FLOWD_STATUS": "timed out",
        ])
        XCTAssertEqual(standardError.read(), "flowd: notice: run finished run=42 status=\"timed out\" workflow=hello\n")
        logger.error("bad\ndefinition")
        XCTAssertEqual(standardError.read(), "flowd: error: bad\\ndefinition\n")
        XCTAssertTrue(journal.entries.isEmpty, "stderr destination must not touch journald")
    }

    func testStandardErrorLineEscapingMatchesCharacterRules() {
        func line(_ message: String, _ value: String) -> String {
            DaemonLogger.standardErrorLine(.info, message, fields: ["FLOWD_VALUE": value, "OTHER": "x"], identifier: "flowd")
        }
        XCTAssertEqual(line("a\r\nb\rc\u{0B}d", "plain"), "flowd: info: a\\nb\\nc\\nd value=plain\n", "CR LF is one newline")
        XCTAssertEqual(line("m", ""), "flowd: info: m value=\"\"\n")
        XCTAssertEqual(line("m", "tab\there"), "flowd: info: m value=\"tab\there\"\n")
        XCTAssertEqual(line("m", "say \"hi\" \\ now\r\n"), "flowd: info: m value=\"say \\\"hi\\\" \\\\ now\\n\"\n")
        XCTAssertEqual(line("m", "back\\slash"), "flowd: info: m value=back\\slash\n", "no whitespace: not quoted")
        // Non-ASCII: Unicode newlines and whitespace count too.
        XCTAssertEqual(line("é\u{2028}ü", "non\u{00A0}breaking"), "flowd: info: é\\nü value=\"non\u{00A0}breaking\"\n")
        XCTAssertEqual(line("ünïcode", "ünïcode"), "flowd: info: ünïcode value=ünïcode\n")
    }

    func testEntriesBelowTheMinimumLevelAreDropped() {
        let logger = makeLogger(.standardError, minimumLevel: .warning)
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        XCTAssertEqual(standardError.read(), "flowd: warning: w\nflowd: error: e\nflowd: critical: c\n")
        logger.setMinimumLevel(.debug)
        XCTAssertEqual(logger.minimumLevel, .debug)
        logger.debug("now visible")
        XCTAssertEqual(standardError.read(), "flowd: debug: now visible\n")
    }

    func testJournalEntryCarriesStructuredFields() throws {
        let logger = makeLogger(.journald)
        logger.log(.warning, "step failed", id: .stepAttemptFinished, fields: ["FLOWD_RUN": "7", "FLOWD_STEP": "fetch"])
        let line = #line - 1
        let entry = try XCTUnwrap(journal.entries.first)
        XCTAssertEqual(entry, [
            "MESSAGE=step failed", "PRIORITY=4", "SYSLOG_IDENTIFIER=flowd",
            "MESSAGE_ID=\(MessageID.stepAttemptFinished.id128)",
            "CODE_FILE=DaemonCoreTests/DaemonLoggerTests.swift", "CODE_LINE=\(line)",
            "CODE_FUNC=testJournalEntryCarriesStructuredFields()",
            "FLOWD_RUN=7", "FLOWD_STEP=fetch",
        ])
        XCTAssertEqual(standardError.read(), "", "journald took the entry; nothing on stderr")
    }

    func testMissingJournaldFallsBackToStandardError() {
        let logger = makeLogger(.journald, journalSocketPath: "/nonexistent/flowd-test/journal/socket")
        logger.info("still heard", fields: ["FLOWD_RUN": "1"])
        XCTAssertEqual(standardError.read(), "flowd: info: still heard run=1\n")
        XCTAssertTrue(journal.entries.isEmpty, "no attempt to reach an absent journald")
    }

    func testJournaldRefusalFallsBackToStandardErrorForThatEntry() {
        let logger = makeLogger(.journald)
        journal.result = -ECONNREFUSED
        logger.error("journald is down")
        XCTAssertEqual(standardError.read(), "flowd: error: journald is down\n")
        journal.result = 0
        logger.error("journald is back")
        XCTAssertEqual(standardError.read(), "")
        XCTAssertEqual(journal.entries.count, 2)
    }

    func testBothWritesEveryEntryTwice() {
        let logger = makeLogger(.both)
        logger.info("hello")
        XCTAssertEqual(standardError.read(), "flowd: info: hello\n")
        XCTAssertEqual(journal.entries.count, 1)
    }

    func testAutomaticSkipsStandardErrorWhenItIsTheJournal() throws {
        let identity = try standardError.writeEndIdentity()
        let logger = makeLogger(.automatic, journalStream: identity)
        logger.info("once only")
        XCTAssertEqual(journal.entries.count, 1)
        XCTAssertEqual(standardError.read(), "", "stderr is journald's stream: writing would duplicate the entry")

        let unrelated = makeLogger(.automatic, journalStream: "1:1")
        unrelated.info("on a terminal")
        XCTAssertEqual(standardError.read(), "flowd: info: on a terminal\n")
        XCTAssertEqual(journal.entries.count, 2)

        let withoutJournald = makeLogger(.automatic, journalSocketPath: "/nonexistent/socket", journalStream: identity)
        withoutJournald.info("no journald here")
        XCTAssertEqual(standardError.read(), "flowd: info: no journald here\n")
        XCTAssertEqual(journal.entries.count, 2)
    }

    func testConcurrentLinesNeverInterleave() {
        let logger = makeLogger(.standardError)
        let message = String(repeating: "x", count: 300)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for _ in 0..<20 { logger.info(message, fields: ["FLOWD_WORKER": "\(worker)"]) }
        }
        let lines = standardError.read().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.count, 160)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("flowd: info: \(message) worker=") && $0.count == 13 + 300 + 9 })
    }

    func testLevelNamesAndOrder() {
        for level in LogLevel.allCases { XCTAssertEqual(LogLevel(name: level.name), level) }
        XCTAssertEqual(LogLevel(name: "warning"), .warning)
        XCTAssertNil(LogLevel(name: "warn"))
        XCTAssertNil(LogLevel(name: "INFO"))
        XCTAssertTrue(LogLevel.debug < .info && LogLevel.info < .notice && LogLevel.error < .critical)
        XCTAssertEqual(LogLevel.allCases.sorted().map(\.name), ["debug", "info", "notice", "warning", "error", "critical"])
    }

    func testMessageIDsAreDistinct128BitHex() {
        let ids = MessageID.allCases.map(\.id128)
        XCTAssertEqual(Set(ids).count, MessageID.allCases.count)
        for id in ids {
            XCTAssertEqual(id.count, 32, id)
            XCTAssertTrue(id.allSatisfy { "0123456789abcdef".contains($0) }, id)
        }
    }

    func testFieldNameRules() {
        XCTAssertTrue(DaemonLogger.isValidFieldName("FLOWD_DURATION_MS"))
        XCTAssertFalse(DaemonLogger.isValidFieldName("flowd_run"))
        XCTAssertFalse(DaemonLogger.isValidFieldName("_PID"))
        XCTAssertFalse(DaemonLogger.isValidFieldName("1RUN"))
        XCTAssertFalse(DaemonLogger.isValidFieldName(""))
        XCTAssertFalse(DaemonLogger.isValidFieldName("FLOWD-RUN"))
        XCTAssertFalse(DaemonLogger.isValidFieldName(String(repeating: "A", count: 65)))
    }

    // MARK: - Helpers

    private func makeLogger(
        _ destination: DaemonLogger.Destination, minimumLevel: LogLevel = .debug,
        journalSocketPath: String? = nil, journalStream: String? = nil
    ) -> DaemonLogger {
        let journal = self.journal!
        return DaemonLogger(
            identifier: "flowd", minimumLevel: minimumLevel, destination: destination,
            // Any existing file stands for a present journald socket.
            journalSocketPath: journalSocketPath ?? "/proc/self/exe",
            standardErrorDescriptor: standardError.writeDescriptor,
            journalStream: journalStream,
            journalTransport: { journal.send($0) }
        )
    }
}

/// A journald stand-in that records each entry and answers with `result`.
final class RecordingJournalStandIn: Sendable {
    private let state = Mutex<(entries: [[String]], result: Int32)>(([], 0))

    var entries: [[String]] { state.withLock { $0.entries } }

    var result: Int32 {
        get { state.withLock { $0.result } }
        set { state.withLock { $0.result = newValue } }
    }

    func send(_ fields: [String]) -> Int32 {
        state.withLock { state in
            state.entries.append(fields)
            return state.result
        }
    }
}

/// A pipe standing in for stderr; `read()` returns what was written since the last read.
final class StandardErrorCapturePipe {
    let readDescriptor: Int32
    let writeDescriptor: Int32

    init() throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw SystemError(call: "pipe", errno: errno) }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
        // Reads never block; the default 64 KiB buffer holds every test's output.
        _ = fcntl(readDescriptor, F_SETFL, O_NONBLOCK)
    }

    func read() -> String {
        var collected = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(readDescriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            collected += buffer[0..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    /// "<st_dev>:<st_ino>" of the write end, in JOURNAL_STREAM's format.
    func writeEndIdentity() throws -> String {
        var status = stat()
        guard fstat(writeDescriptor, &status) == 0 else { throw SystemError(call: "fstat", errno: errno) }
        return "\(status.st_dev):\(status.st_ino)"
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }
}
