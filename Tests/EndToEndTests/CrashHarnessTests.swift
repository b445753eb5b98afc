// The crash harness: a few hundred spool files through a workflow with idempotent and
// non-idempotent steps, the real daemon killed with SIGKILL at random moments several
// times and restarted, then the accounting SPEC section 5 promises:
// - every file has exactly one run, and no file is lost from the spool;
// - every step attempt that executed was committed as started first (each step appends
//   "run step attempt" to a ledger file, and every ledger line names a journaled attempt);
// - no attempt executed twice, and every step recorded as succeeded ran exactly once;
// - after the operator resumes the interrupted runs, every run succeeds.
//
// The kill moments come from a seeded generator; the seed is printed, and
// FLOWD_CRASH_SEED=N repeats a failing sequence.

import DaemonCore
import Foundation
import XCTest

final class CrashHarnessTests: XCTestCase {
    /// SplitMix64: small, seedable, good enough to spread kill moments.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct AttemptKey: Hashable, CustomStringConvertible {
        var run: Int64, step: String, attempt: Int64
        var description: String { "run \(run) step \(step) attempt \(attempt)" }
    }

    static let fileCount = 300
    static let kills = 5

    func testRandomKillsLoseNothingAndRunNoFinishedStepTwice() throws {
        let seed = ProcessInfo.processInfo.environment["FLOWD_CRASH_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("crash harness seed: \(seed) (FLOWD_CRASH_SEED=\(seed) repeats it)")
        var random = SeededGenerator(state: seed)

        let ledgerName = "ledger.txt"
        func step(_ id: String, idempotent: Bool, pause: String) -> String {
            """
              - id: \(id)
                idempotent: \(idempotent)
                run: echo "$FLOWD_RUN \(id) $FLOWD_ATTEMPT" >> "$LEDGER"; sleep \(pause)
            """
        }
        let flowd = try FlowdHarness(
            workflows: ["pay.yaml": """
                on: { spool: { format: raw } }
                env: { LEDGER: "LEDGER_PATH" }
                steps:
                \(step("prepare", idempotent: true, pause: "0.01"))
                \(step("charge", idempotent: false, pause: "0.02"))
                \(step("notify", idempotent: true, pause: "0"))
                """],
            configuration: "workers: 2\n")
        let ledger = flowd.path(ledgerName)
        let definition = flowd.path("etc/flowd/workflows/pay.yaml")
        try String(contentsOfFile: definition, encoding: .utf8)
            .replacingOccurrences(of: "LEDGER_PATH", with: ledger)
            .write(toFile: definition, atomically: true, encoding: .utf8)

        // Files arrive in batches, some while the daemon is down.
        var dropped = 0
        func dropBatch(_ count: Int) throws {
            let end = min(dropped + count, Self.fileCount)
            while dropped < end {
                dropped += 1
                try flowd.drop("payment \(dropped)\n", workflow: "pay", name: "p\(dropped)")
            }
        }

        try dropBatch(Self.fileCount / 2)
        try flowd.start()
        let batch = (Self.fileCount - Self.fileCount / 2 + Self.kills - 1) / Self.kills
        for round in 1...Self.kills {
            let delay = Double.random(in: 0.2...1.5, using: &random)
            usleep(UInt32(delay * 1_000_000))
            if Bool.random(using: &random) { try dropBatch(batch / 2) }
            try flowd.stop(signal: SIGKILL)
            print("crash harness: kill \(round) after \(String(format: "%.2f", delay)) s, \(dropped) files dropped")
            try dropBatch(batch - batch / 2)
            try flowd.start()
        }
        try dropBatch(Self.fileCount)

        // Let everything settle, then act as the operator for runs left interrupted.
        let journal = try SQLiteConnection(path: flowd.path("state/journal.sqlite"), options: {
            var options = SQLiteOptions()
            options.readOnly = true
            options.create = false
            return options
        }())
        func statusCounts() throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try journal.query("SELECT status, count(*) AS n FROM runs WHERE workflow = 'pay' GROUP BY status") {
                counts[row["status"].stringValue ?? "?"] = Int(row.int("n") ?? 0)
            }
            return counts
        }
        var resumed = 0
        var counts: [String: Int] = [:]
        defer {
            print("crash harness: runs by status at the end: \(counts)")
            for row in (try? journal.query("SELECT id, error FROM runs WHERE workflow = 'pay' AND status <> 'succeeded'")) ?? [] {
                let id = row.int("id") ?? 0
                print("crash harness: run \(id): \(row["error"].stringValue ?? "")")
                for attempt in (try? journal.query("SELECT step_id, attempt, status, error, exit_code, stderr_tail FROM step_attempts WHERE run_id = ?", [.integer(id)])) ?? [] {
                    print("  \(attempt["step_id"].stringValue ?? "") \(attempt.int("attempt") ?? 0) \(attempt["status"].stringValue ?? "") exit \(attempt.int("exit_code") ?? -1) \(attempt["error"].stringValue ?? "") \(attempt["stderr_tail"].stringValue ?? "")")
                }
            }
        }
        try flowd.waitUntil("every file has a finished run", timeout: 120) {
            counts = try statusCounts()
            if let interrupted = counts["interrupted"], interrupted > 0 {
                for row in try journal.query("SELECT id FROM runs WHERE workflow = 'pay' AND status = 'interrupted'") {
                    let result = flowd.flowadm("resume", String(row.int("id") ?? 0))
                    if result.status == 0 { resumed += 1 }
                }
            }
            return counts.values.reduce(0, +) == Self.fileCount && counts["succeeded"] == Self.fileCount
        }
        print("crash harness: \(Self.kills) kills, \(resumed) interrupted runs resumed by the operator")

        // Every file has exactly one run.
        let runs = try journal.query("SELECT id, trigger_name FROM runs WHERE workflow = 'pay'")
        let names = runs.compactMap { $0["trigger_name"].stringValue }
        XCTAssertEqual(names.count, Self.fileCount)
        XCTAssertEqual(Set(names), Set((1...Self.fileCount).map { "p\($0)" }), "one run per file, none missing, none twice")

        // The ledger against the journal.
        var executed: [AttemptKey: Int] = [:]
        for line in try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let run = Int64(fields[0]), let attempt = Int64(fields[2]) else {
                XCTFail("a torn ledger line: \(line)")
                continue
            }
            executed[AttemptKey(run: run, step: String(fields[1]), attempt: attempt), default: 0] += 1
        }
        var recorded: [AttemptKey: String] = [:]
        for row in try journal.query("SELECT a.run_id, a.step_id, a.attempt, a.status FROM step_attempts a JOIN runs r ON r.id = a.run_id WHERE r.workflow = 'pay'") {
            let key = AttemptKey(run: row.int("run_id") ?? 0, step: row["step_id"].stringValue ?? "", attempt: row.int("attempt") ?? 0)
            recorded[key] = row["status"].stringValue
        }
        for (key, times) in executed {
            XCTAssertEqual(times, 1, "\(key) executed \(times) times")
            XCTAssertNotNil(recorded[key], "\(key) executed without being journaled as started first")
        }
        var succeededSteps: [String: Int] = [:]
        for (key, status) in recorded where status == "succeeded" {
            XCTAssertEqual(executed[key], 1, "\(key) is recorded succeeded but did not run exactly once")
            succeededSteps["\(key.run) \(key.step)", default: 0] += 1
        }
        XCTAssertEqual(succeededSteps.count, Self.fileCount * 3, "every step of every run succeeded")
        XCTAssertTrue(succeededSteps.values.allSatisfy { $0 == 1 }, "no step succeeded twice")
        let charges = executed.keys.filter { $0.step == "charge" }
        let rerunCharges = charges.count - Self.fileCount
        print("crash harness: \(executed.count) attempts executed, \(rerunCharges) non-idempotent steps ran again after an operator's resume")

        // No file is lost from the spool: all in done/, nothing left elsewhere.
        func files(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: flowd.path(directory))) ?? []).filter { !$0.hasPrefix(".") }
        }
        try flowd.waitUntil("every file reached done/") { files("spool/done/pay").count == Self.fileCount }
        XCTAssertEqual(files("spool/incoming/pay"), [])
        XCTAssertEqual(files("spool/active/pay"), [])
        XCTAssertEqual(files("spool/rejected/pay"), [])
        XCTAssertEqual(try flowd.stop(), 0, "a clean stop after all that")
    }
}
