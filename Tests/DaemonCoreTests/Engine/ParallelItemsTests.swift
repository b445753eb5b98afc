// The pure parts of parallel foreach and resume changes: item branch keys, how a
// branch's journal writes become the run's, and replacing a step in a run's frames.

import XCTest
@testable import DaemonCore

final class ParallelItemsTests: XCTestCase {
    func testBranchKeysEncodeRunAndItemAndLeaveRunsAlone() {
        for (run, item) in [(Int64(1), 0), (1, 999_999), (123_456_789, 42)] {
            let key = ItemBranchKey.make(run: run, item: item)
            XCTAssertLessThan(key, 0)
            XCTAssertEqual(ItemBranchKey.split(key)?.run, run)
            XCTAssertEqual(ItemBranchKey.split(key)?.item, item)
            XCTAssertEqual(ItemBranchKey.run(of: key), run)
        }
        XCTAssertNil(ItemBranchKey.split(7))
        XCTAssertEqual(ItemBranchKey.run(of: 7), 7)
        XCTAssertNotEqual(ItemBranchKey.make(run: 1, item: 0), ItemBranchKey.make(run: 2, item: 0))
    }

    func testBranchWritesBecomeTheRunsWithTheItem() {
        let key = ItemBranchKey.make(run: 9, item: 3)
        let started = JournalWrite.attemptStarted(runID: key, stepIndex: 5, stepID: "work", attempt: 1, at: 0, kind: "run",
                                                  input: .null, wakeAt: nil)
        XCTAssertTrue(started.isFromParallelItem)
        let rewritten = started.forParallelItems
        XCTAssertEqual(rewritten.count, 2)
        guard case .attemptStarted(let runID, 5, "work", 1, _, _, _, _) = rewritten[0],
              case .attemptItem(9, 5, 1, 3) = rewritten[1] else {
            return XCTFail("\(rewritten)")
        }
        XCTAssertEqual(runID, 9)

        let end = AttemptEnd(runID: key, stepIndex: 5, attempt: 1, status: "succeeded", endedAt: 0, exitCode: 0, signal: nil,
                             standardOutput: "", standardError: "", standardOutputBytes: 0, standardErrorBytes: 0, error: nil)
        guard case .attemptFinished(let finished)? = JournalWrite.attemptFinished(end).forParallelItems.first else { return XCTFail() }
        XCTAssertEqual(finished.runID, 9)

        XCTAssertTrue(JournalWrite.runStatus(runID: key, status: "waiting").forParallelItems.isEmpty,
                      "an item's wait does not change the run's status")
        guard case .runStatus(9, "interrupted")? = JournalWrite.runStatus(runID: key, status: "interrupted").forParallelItems.first else {
            return XCTFail("an interrupted item makes the run interrupted")
        }
        let plain = JournalWrite.runStatus(runID: 9, status: "waiting")
        XCTAssertFalse(plain.isFromParallelItem)
        guard case .runStatus(9, "waiting")? = plain.forParallelItems.first else { return XCTFail() }
    }

    func testReplacingAStepReachesNestedBodiesAndFramesOnTheStack() throws {
        let definition = try WorkflowLoader.load(text: """
            vars: { rows: [1] }
            steps:
              - id: outer
                foreach: '{{ vars.rows }}'
                do:
                  - id: inner
                    run: echo "$WHO"
                    env: { WHO: world }
              - id: last
                run: 'true'
                fallback:
                  - id: rescue
                    run: echo "$WHO"
            """, path: "replace.yaml")
        var run = ActiveRun(id: 1, definition: definition, payload: .null, trigger: TriggerInfo(kind: "manual"))
        let body: [StepDefinition]
        if case .foreach(let loop) = definition.steps[0].kind { body = loop.steps } else { return XCTFail() }
        run.frames.append(Frame(steps: body, kind: .foreach(stepID: "outer", items: [1], index: 0)))

        var inner = try XCTUnwrap(Engine.step("inner", in: run))
        inner.environment["WHO"] = "operators"
        run.replaceStep(inner)
        XCTAssertEqual(run.frames[1].steps[0].environment["WHO"], "operators", "the body on the stack")
        XCTAssertEqual(Engine.step("inner", in: run)?.environment["WHO"], "operators", "the definition, for later items")

        var rescue = try XCTUnwrap(Engine.step("rescue", in: run))
        rescue.environment["WHO"] = "ops"
        run.replaceStep(rescue)
        XCTAssertEqual(run.frames[0].steps[1].fallback[0].environment["WHO"], "ops", "a fallback of a step not reached yet")
        XCTAssertNil(Engine.step("nosuch", in: run))
    }
}
