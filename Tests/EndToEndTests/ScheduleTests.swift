// End to end: cron triggers fire at most once per slot across restarts; a missed slot
// is replayed once only with catch_up.

import DaemonCore
import Foundation
import XCTest

final class ScheduleTests: XCTestCase {
    func testCatchUpReplaysTheMissedSlotOnceAndOnlyWhenAsked() throws {
        let flowd = try FlowdHarness(workflows: [
            "yearly-catch.yaml": """
                on:
                  schedule: { cron: "TZ=UTC 0 0 1 1 *", catch_up: true }
                steps:
                  - id: report
                    run: echo "slot {{ trigger.payload.slot }} catch-up {{ trigger.payload.catch_up }}"
                """,
            "yearly-skip.yaml": """
                on:
                  schedule: "TZ=UTC 0 0 1 1 *"
                steps:
                  - id: report
                    run: echo never
                """,
        ])
        try flowd.start()
        XCTAssertEqual(try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue?.count, 0, "no slot is due")
        XCTAssertEqual(try flowd.stop(), 0)

        // Pretend both last fired two years ago, so this year's 1 January was missed.
        let twoYearsAgo = Int(Date().timeIntervalSince1970) - 2 * 365 * 86_400
        let journal = flowd.path("state/journal.sqlite")
        let insert = flowd.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for name in ("yearly-catch", "yearly-skip"):
                db.execute("INSERT OR REPLACE INTO schedule_slots VALUES (?, ?, ?)", (name, "TZ=UTC 0 0 1 1 *", int(sys.argv[2])))
            db.commit()
            """, journal, String(twoYearsAgo)])
        XCTAssertEqual(insert.status, 0, insert.standardError)

        try flowd.start()
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["workflow"], "yearly-catch")
        XCTAssertEqual(run["trigger"]?["kind"], "schedule")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        XCTAssertEqual(run["attempts"]?.arrayValue?.first?["stdout"]?.stringValue,
                       "slot \(year)-01-01T00:00:00.000000Z catch-up true\n")
        XCTAssertEqual(try flowd.stop(), 0)

        try flowd.start()
        usleep(500_000)
        let runs = try flowd.flowadm("runs", "--json").json()["runs"]?.arrayValue ?? []
        XCTAssertEqual(runs.count, 1, "the slot fired once; the restart does not fire it again, and yearly-skip never catches up")
    }
}
