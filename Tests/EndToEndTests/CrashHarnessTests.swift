// The crash harness: a few hundred spool files through two workflows with idempotent
// and non-idempotent steps (one of them a parallel foreach), the real daemon killed with SIGKILL at random moments several
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
        var run: Int64, step: String, item: String, attempt: Int64
        var description: String { "run \(run) step \(step)\(item == "-" ? "" : " item " + item) attempt \(attempt)" }
    }

    /// Files for `pay` (three sequential steps); every fifth file also drops one for `fan`
    /// (a foreach over three items, two at a time, two steps per item).
    static let payFiles = 300
    static let fanFiles = payFiles / 5
    static let kills = 5

    func testRandomKillsLoseNothingAndRunNoFinishedStepTwice() throws {
        let seed = ProcessInfo.processInfo.environment["FLOWD_CRASH_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("crash harness seed: \(seed) (FLOWD_CRASH_SEED=\(seed) repeats it)")
        var random = SeededGenerator(state: seed)

        // Each execution appends "run step attempt item" to the ledger (item "-" outside a foreach).
        func step(_ id: String, idempotent: Bool, pause: String, item: String = "-", indent: String = "  ") -> String {
            """
            \(indent)- id: \(id)
            \(indent)  idempotent: \(idempotent)
            \(indent)  run: echo "$FLOWD_RUN \(id) $FLOWD_ATTEMPT \(item)" >> "$LEDGER"; sleep \(pause)
            """
        }
        let flowd = try FlowdHarness(
            workflows: [
                "pay.yaml": """
                    on: { spool: { format: raw } }
                    env: { LEDGER: "LEDGER_PATH" }
                    steps:
                    \(step("prepare", idempotent: true, pause: "0.01"))
                    \(step("charge", idempotent: false, pause: "0.02"))
                    \(step("notify", idempotent: true, pause: "0"))
                    """,
                "fan.yaml": """
                    on: { spool: { format: raw } }
                    env: { LEDGER: "LEDGER_PATH" }
                    vars: { parts: [0, 1, 2] }
                    steps:
                      - id: each
                        foreach: '{{ vars.parts }}'
                        parallel: 2
                        do:
                    \(step("copy", idempotent: true, pause: "0.02", item: "{{ item }}", indent: "      "))
                    \(step("publish", idempotent: false, pause: "0.01", item: "{{ item }}", indent: "      "))
                    """,
            ],
            configuration: "workers: 2\n")
        let ledger = flowd.path("ledger.txt")
        for name in ["pay", "fan"] {
            let definition = flowd.path("etc/flowd/workflows/\(name).yaml")
            try String(contentsOfFile: definition, encoding: .utf8)
                .replacingOccurrences(of: "LEDGER_PATH", with: ledger)
                .write(toFile: definition, atomically: true, encoding: .utf8)
        }

        // Files arrive in batches, some while the daemon is down.
        var dropped = 0
        func dropBatch(_ count: Int) throws {
            let end = min(dropped + count, Self.payFiles)
            while dropped < end {
                dropped += 1
                try flowd.drop("payment \(dropped)\n", workflow: "pay", name: "p\(dropped)")
                if dropped % 5 == 0 { try flowd.drop("fan \(dropped / 5)\n", workflow: "fan", name: "f\(dropped / 5)") }
            }
        }

        try dropBatch(Self.payFiles / 2)
        try flowd.start()
        let batch = (Self.payFiles - Self.payFiles / 2 + Self.kills - 1) / Self.kills
        for round in 1...Self.kills {
            let delay = Double.random(in: 0.2...1.5, using: &random)
            usleep(UInt32(delay * 1_000_000))
            if Bool.random(using: &random) { try dropBatch(batch / 2) }
            try flowd.stop(signal: SIGKILL)
            print("crash harness: kill \(round) after \(String(format: "%.2f", delay)) s, \(dropped) pay files dropped")
            try dropBatch(batch - batch / 2)
            try flowd.start()
        }
        try dropBatch(Self.payFiles)

        // Let everything settle, then act as the operator for runs left interrupted.
        let journal = try SQLiteConnection(path: flowd.path("state/journal.sqlite"), options: {
            var options = SQLiteOptions()
            options.readOnly = true
            options.create = false
            return options
        }())
        func statusCounts() throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try journal.query("SELECT workflow || ' ' || status AS what, count(*) AS n FROM runs GROUP BY workflow, status") {
                counts[row["what"].stringValue ?? "?"] = Int(row.int("n") ?? 0)
            }
            return counts
        }
        var resumed = 0
        var counts: [String: Int] = [:]
        defer {
            print("crash harness: runs by status at the end: \(counts)")
            for row in (try? journal.query("SELECT id, error FROM runs WHERE status <> 'succeeded'")) ?? [] {
                let id = row.int("id") ?? 0
                print("crash harness: run \(id): \(row["error"].stringValue ?? "")")
                for attempt in (try? journal.query("SELECT step_id, item, attempt, status, error, exit_code FROM step_attempts WHERE run_id = ?", [.integer(id)])) ?? [] {
                    print("  \(attempt["step_id"].stringValue ?? "") item \(attempt.int("item").map(String.init) ?? "-") attempt \(attempt.int("attempt") ?? 0) \(attempt["status"].stringValue ?? "") exit \(attempt.int("exit_code") ?? -1) \(attempt["error"].stringValue ?? "")")
                }
            }
        }
        try flowd.waitUntil("every file has a finished run", timeout: 150) {
            counts = try statusCounts()
            for row in try journal.query("SELECT id FROM runs WHERE status = 'interrupted'") {
                if flowd.flowadm("resume", String(row.int("id") ?? 0)).status == 0 { resumed += 1 }
            }
            return counts == ["pay succeeded": Self.payFiles, "fan succeeded": Self.fanFiles]
        }
        print("crash harness: \(Self.kills) kills, \(resumed) resumes by the operator")

        // Every file has exactly one run.
        for (workflow, prefix, expected) in [("pay", "p", Self.payFiles), ("fan", "f", Self.fanFiles)] {
            let names = try journal.query("SELECT trigger_name FROM runs WHERE workflow = ?", [.text(workflow)])
                .compactMap { $0["trigger_name"].stringValue }
            XCTAssertEqual(names.count, expected, "\(workflow): one run per file")
            XCTAssertEqual(Set(names), Set((1...expected).map { "\(prefix)\($0)" }), "\(workflow): no file missing, none twice")
        }

        // The ledger against the journal.
        var executed: [AttemptKey: Int] = [:]
        for line in try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let run = Int64(fields[0]), let attempt = Int64(fields[2]) else {
                XCTFail("a torn ledger line: \(line)")
                continue
            }
            executed[AttemptKey(run: run, step: String(fields[1]), item: String(fields[3]), attempt: attempt), default: 0] += 1
        }
        var recorded: [AttemptKey: String] = [:]
        for row in try journal.query("SELECT run_id, step_id, item, attempt, status FROM step_attempts WHERE step_id <> 'each'") {
            let key = AttemptKey(run: row.int("run_id") ?? 0, step: row["step_id"].stringValue ?? "",
                                 item: row.int("item").map(String.init) ?? "-", attempt: row.int("attempt") ?? 0)
            XCTAssertNil(recorded[key], "\(key) journaled twice")
            recorded[key] = row["status"].stringValue
        }
        for (key, times) in executed {
            XCTAssertEqual(times, 1, "\(key) executed \(times) times")
            XCTAssertNotNil(recorded[key], "\(key) executed without being journaled as started first")
        }
        var succeededSteps: [String: Int] = [:]
        for (key, status) in recorded where status == "succeeded" {
            XCTAssertEqual(executed[key], 1, "\(key) is recorded succeeded but did not run exactly once")
            succeededSteps["\(key.run) \(key.step) \(key.item)", default: 0] += 1
        }
        XCTAssertEqual(succeededSteps.count, Self.payFiles * 3 + Self.fanFiles * 3 * 2, "every step of every run and item succeeded")
        XCTAssertTrue(succeededSteps.values.allSatisfy { $0 == 1 }, "no step succeeded twice")
        let reruns = executed.count - succeededSteps.count
        print("crash harness: \(executed.count) attempts executed, \(reruns) of them again after a kill (idempotent or resumed)")

        // No file is lost from the spool: all in done/, nothing left elsewhere.
        func files(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: flowd.path(directory))) ?? []).filter { !$0.hasPrefix(".") }
        }
        for (workflow, expected) in [("pay", Self.payFiles), ("fan", Self.fanFiles)] {
            try flowd.waitUntil("every \(workflow) file reached done/") { files("spool/done/\(workflow)").count == expected }
            XCTAssertEqual(files("spool/incoming/\(workflow)"), [])
            XCTAssertEqual(files("spool/active/\(workflow)"), [])
            XCTAssertEqual(files("spool/rejected/\(workflow)"), [])
        }
        XCTAssertEqual(try flowd.stop(), 0, "a clean stop after all that")
    }
}
