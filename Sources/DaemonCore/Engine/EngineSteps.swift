// EngineSteps.swift: how a run walks its steps.
//
// advance() looks at the top frame's next step: it evaluates `if:` (without one, the
// step runs only if no earlier step of its frame failed; steps of a handler list run
// regardless of the main steps' outcome), records skipped steps, and starts the step:
// in-process kinds (set, fail, foreach) at once, sleeps as timers, process and http
// steps on a worker. When a frame runs out, a fallback's success replaces its step's
// outcome, a foreach moves to its next item, the main list hands over to on_success or
// on_failure, and a handler list ends the run.

extension Engine {
    /// A run taken from the queue starts: its first step, and its run timeout.
    func begin(_ runID: Int64) {
        let now = WallClock.nowMicroseconds()
        guard case let (workflow, timeout)? = updateRun(runID, { run in
            run.state = .running
            run.started = true
            run.startedAt = now
            return (run.definition.name, run.definition.timeout)
        }) else { return }
        if let timeout {
            let timer = loop.schedule(after: timeout) { [self] in
                stop(runID, reason: .timedOut(timeout))
            }
            updateRun(runID) { $0.runTimer = timer }
        }
        journal.submit([.runStarted(runID: runID, at: now)])
        logger.log(.info, "run \(runID) of \(workflow) started", id: .runStarted,
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": workflow, "FLOWD_STATUS": "running"])
        events.publish(["kind": "run_started"], runID: runID, workflow: workflow)
        advance(runID)
    }

    /// Moves the run forward until it must wait (a worker, a timer) or ends.
    ///
    /// The run is read and changed where it is in `runs` (readRun, updateRun), here and on
    /// the other per-step paths (begin, startAttempt, recordInline, stepEnded): a copy of
    /// the ActiveRun out of `runs` (even `runs[runID]!.field` makes one) retains and
    /// releases every field, and a change to the copy copies `frames` or `results`
    /// (bench/FINDINGS.md, fix d).
    func advance(_ runID: Int64) {
        while phase == .running, case let (idle, replaying)? = readRun(runID, { ($0.current == nil, !$0.recorded.isEmpty) }), idle {
            if !replaying && holdIfPaused(runID) { return }
            guard var frame = readRun(runID, { $0.frames.last }) ?? nil else {
                if readRun(runID, { $0.branchOf }) ?? nil != nil { runs[runID] = nil; return }  // a stopped item
                return finishRun(runID)
            }
            if frame.index >= frame.steps.count {
                updateRun(runID) { $0.frames.removeLast() }
                frameCompleted(runID, frame)
                continue
            }
            let step = frame.steps[frame.index]
            if replaying, let recorded = updateRun(runID, { $0.recorded.removeFirst() }) {
                // Recovery: the journal already says what this step did.
                guard recorded.stepID == step.id else {
                    return interrupt(runID, step: step, sequence: recorded.sequence, attempt: recorded.attempts,
                                     reason: "the journal has step \(recorded.stepID) where the definition has \(step.id)")
                }
                consumeRecorded(runID, recorded, step: step, frameFailed: frame.failed)
                continue
            }
            var shouldRun = !frame.failed
            if let condition = step.condition {
                do {
                    let credentials = credentials.expressionValue
                    let context = readRun(runID) { $0.expressionContext(step: step, attempt: 1, credentials: credentials) }!
                    shouldRun = try template(condition).evaluate(in: context).isTruthy
                } catch {
                    let sequence = takeSequence(of: runID)
                    updateRun(runID) { $0.current = CurrentStep(definition: step, sequence: sequence, attempt: 1, needsWorker: false) }
                    recordInline(runID, status: "failed", output: .null, error: "if: \(error.message)")
                    continue
                }
            }
            guard shouldRun else {
                frame.index += 1
                updateRun(runID) { run in
                    run.frames[run.frames.count - 1] = frame
                    run.results[step.id] = StepResult(status: "skipped", output: .null, exitCode: nil, attempts: 0)
                }
                let sequence = takeSequence(of: runID)
                let now = WallClock.nowMicroseconds()
                journal.submit([
                    .attemptStarted(runID: runID, stepIndex: sequence, stepID: step.id, attempt: 1, at: now, kind: step.kind.name,
                                    input: .null, wakeAt: nil),
                    .attemptFinished(AttemptEnd(runID: runID, stepIndex: sequence, attempt: 1, status: "skipped", endedAt: now,
                                                exitCode: nil, signal: nil, standardOutput: "", standardError: "",
                                                standardOutputBytes: 0, standardErrorBytes: 0, error: nil)),
                ])
                continue
            }
            let sequence = takeSequence(of: runID)
            updateRun(runID) { $0.current = CurrentStep(definition: step, sequence: sequence, attempt: 1, needsWorker: false) }
            startAttempt(runID)
        }
    }

    /// The top frame of a run ran out of steps.
    private func frameCompleted(_ runID: Int64, _ frame: Frame) {
        switch frame.kind {
        case .main:
            updateRun(runID) { run in
                run.finalStatus = frame.failed ? "failed" : "succeeded"
                let handlers = frame.failed ? run.definition.onFailure : run.definition.onSuccess
                if !handlers.isEmpty { run.frames.append(Frame(steps: handlers, kind: .handler(frame.failed ? "on_failure" : "on_success"))) }
            }
        case .handler:
            return  // no frames left: advance() finishes the run
        case .fallback(let stepID):
            guard var run = runs[runID] else { return }
            let attempts = run.results[stepID]?.attempts ?? 0
            let exitCode = run.results[stepID]?.exitCode
            run.results[stepID] = StepResult(status: frame.failed ? "failed" : "succeeded",
                                             output: frame.failed ? .null : frame.lastOutput, exitCode: exitCode, attempts: attempts)
            runs[runID] = run
            completeParentStep(runID, stepID: stepID, failed: frame.failed, output: frame.lastOutput)
        case .foreach(let stepID, let items, let index):
            guard var run = runs[runID] else { return }
            if let owner = run.branchOf, run.frames.isEmpty {
                // An item's own frame (the bottom one of its branch): the item ended.
                runs[runID] = nil
                itemEnded(owner, item: index, failed: frame.failed, output: frame.lastOutput)
                return
            }
            var next = frame
            next.foreachOutputs.append(frame.lastOutput)
            if !frame.failed && index + 1 < items.count {
                next.kind = .foreach(stepID: stepID, items: items, index: index + 1)
                next.index = 0
                next.lastOutput = .null
                run.frames.append(next)
                runs[runID] = run
                return
            }
            let output = JSONValue.array(next.foreachOutputs)
            run.results[stepID] = StepResult(status: frame.failed ? "failed" : "succeeded", output: output, exitCode: nil,
                                             attempts: 1)
            runs[runID] = run
            completeParentStep(runID, stepID: stepID, failed: frame.failed, output: output)
        }
    }

    /// After a fallback or foreach body: the step that owns it is done in its own frame.
    private func completeParentStep(_ runID: Int64, stepID: String, failed: Bool, output: JSONValue) {
        guard var run = runs[runID], var parent = run.frames.last else { return }
        let step = parent.steps[parent.index]
        parent.index += 1
        parent.lastOutput = output
        if failed && !step.continueOnError {
            parent.failed = true
            if case .main = parent.kind, run.failedStep == nil { run.failedStep = stepID }
        }
        run.frames[run.frames.count - 1] = parent
        runs[runID] = run
    }

    /// The current step ended (after all its attempts): record it and move the frame on.
    func stepEnded(_ runID: Int64, status: String, output: JSONValue, exitCode: Int32?, error: String?) {
        updateRun(runID) { run in
            guard let current = run.current, var frame = run.frames.last else { return }
            let step = current.definition
            run.current = nil
            run.results[step.id] = StepResult(status: status, output: output, exitCode: exitCode, attempts: current.attempt)
            if status != "succeeded" && !step.fallback.isEmpty {
                run.frames.append(Frame(steps: step.fallback, kind: .fallback(stepID: step.id)))
                return
            }
            frame.index += 1
            frame.lastOutput = output
            if status != "succeeded" && !step.continueOnError {
                frame.failed = true
                if case .main = frame.kind, run.failedStep == nil {
                    run.failedStep = step.id
                    run.failureError = error
                }
            }
            run.frames[run.frames.count - 1] = frame
        }
    }

    /// Changes the run where it is in `runs`, without copying it out and back. `body`
    /// must not touch `runs` (it has exclusive access to it). Nil when there is no such run.
    @discardableResult
    func updateRun<Result>(_ runID: Int64, _ body: (inout ActiveRun) -> Result) -> Result? {
        guard let index = runs.index(forKey: runID) else { return nil }
        return body(&runs.values[index])
    }

    /// Reads the run where it is in `runs`: `runs[runID]?.field` copies the whole run
    /// first. `body` must not touch `runs`. Nil when there is no such run.
    func readRun<Result>(_ runID: Int64, _ body: (ActiveRun) -> Result) -> Result? {
        updateRun(runID) { run in body(run) }
    }

    /// Pushes a foreach body for the items the step's expression yields.
    func enterForeach(_ runID: Int64, step: StepDefinition, loop foreach: ForeachStep, items: [JSONValue]) {
        guard var run = runs[runID] else { return }
        if items.isEmpty {
            runs[runID] = run
            stepEnded(runID, status: "succeeded", output: .array([]), exitCode: nil, error: nil)
            return
        }
        run.current = nil
        run.frames.append(Frame(steps: foreach.steps, kind: .foreach(stepID: step.id, items: items, index: 0)))
        runs[runID] = run
    }

    // MARK: Ending

    enum StopReason {
        case cancelled(byUID: UInt32?)
        case timedOut(Duration)
        case shutdown
    }

    /// Cancels or times out a run: stops its current step, then runs on_cancel (or
    /// on_failure for a timeout) and ends it.
    func stop(_ runID: Int64, reason: StopReason) {
        guard var run = runs[runID], run.finalStatus == nil || !run.cancelRequested else { return }
        run.cancelRequested = true
        switch reason {
        case .cancelled:
            run.finalStatus = "cancelled"
            run.failureError = "cancelled"
        case .timedOut(let timeout):
            run.finalStatus = "failed"
            run.failureError = "the run timed out after \(DurationText.format(timeout))"
            run.failedStep = run.failedStep ?? run.current?.definition.id
        case .shutdown:
            return
        }
        if let runTimer = run.runTimer { loop.cancel(runTimer) }
        if run.state == .queued {
            queues[run.definition.name]?.removeAll { $0 == runID }
            queuedCount -= 1
            runningPerWorkflow[run.definition.name, default: 0] += 1  // finishRun releases it
            run.frames = []
            runs[runID] = run
            finishRun(runID)
            dispatch()
            return
        }
        let handlers: [StepDefinition]
        if case .cancelled = reason { handlers = run.definition.onCancel } else { handlers = run.definition.onFailure }
        let label: String
        if case .cancelled = reason { label = "on_cancel" } else { label = "on_failure" }
        run.frames = handlers.isEmpty ? [] : [Frame(steps: handlers, kind: .handler(label))]
        run.current?.abandoned = true
        runs[runID] = run
        stopItems(runID, error: run.failureError)
        if let current = run.current {
            if let timer = current.timer {
                loop.cancel(timer)
                readyRuns.removeAll { $0 == runID }
                finishWaitingAttempt(runID, status: "cancelled", error: run.failureError)
            } else if let cancellation = current.cancellation {
                cancellation.cancel()  // the attempt's outcome comes back and ends it
                return
            } else {
                readyRuns.removeAll { $0 == runID }
                finishWaitingAttempt(runID, status: "cancelled", error: run.failureError)
            }
        }
        advance(runID)
        dispatch()
    }

    /// Records the end of a run, then moves its spool file to done/ and triggers
    /// workflows that wait for this one.
    func finishRun(_ runID: Int64) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        releaseSlot(of: run)
        if let runTimer = run.runTimer { loop.cancel(runTimer) }
        let status = run.finalStatus ?? "failed"
        let endedAt = WallClock.nowMicroseconds()
        let durationMilliseconds = run.startedAt.map { (endedAt - $0) / 1000 } ?? 0
        let failedStep = status == "succeeded" ? nil : run.failedStep
        let error = status == "succeeded" ? nil : run.failureError.map(credentials.redact)
        logger.log(status == "succeeded" ? .info : (status == "cancelled" ? .notice : .error),
                   "run \(runID) of \(run.definition.name) \(status)" + (failedStep.map { " at step \($0)" } ?? ""),
                   id: .runFinished,
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STATUS": status,
                            "FLOWD_DURATION_MS": "\(durationMilliseconds)"])
        events.publish(["kind": "run_finished", "status": .string(status), "failed_step": failedStep.map(JSONValue.string) ?? .null,
                        "error": error.map(JSONValue.string) ?? .null, "duration_ms": .int(durationMilliseconds)],
                       runID: runID, workflow: run.definition.name)
        var writes: [JournalWrite] = [.runFinished(runID: runID, status: status, at: endedAt, failedStep: failedStep, error: error)]
        // The file's place in done/ is known before it moves there: journaled with the end,
        // one transaction fewer per run. A crash before the move leaves the file in active/,
        // where the next start moves it (EngineRecovery.reconcileActiveSpool).
        let spoolMove = run.trigger.kind == "spool" ? run.spoolPath.map { ($0, spool.donePath(activePath: $0, workflow: run.definition.name)) } : nil
        if let (_, donePath) = spoolMove { writes.append(.runSpoolPath(runID: runID, path: donePath)) }
        journal.submit(writes) { [self] outcome in
            guard case .success = outcome, let (activePath, donePath) = spoolMove else { return }
            loop.execute { [self] in moveToDone(runID: runID, workflow: run.definition.name, activePath: activePath, journaled: donePath) }
        }
        if run.parentRun != nil { childrenEndedAtOnce?[runID] = status }
        for waiter in runWaiters.removeValue(forKey: runID) ?? [] { waiter(status) }
        runEnded(run, status: status)
        dispatch()
        if phase == .draining { drainIfIdle() }
    }

    /// Moves a finished run's file into done/; the path is journaled unless it is the one
    /// already `journaled` (a name taken in done/ gives the file another).
    func moveToDone(runID: Int64, workflow: String, activePath: String, journaled: String? = nil) {
        do {
            let donePath = try spool.finish(activePath: activePath, workflow: workflow)
            if donePath != journaled { journal.submit([.runSpoolPath(runID: runID, path: donePath)]) }
        } catch {
            // The journal names the file where it is until the move succeeds.
            if journaled != nil { journal.submit([.runSpoolPath(runID: runID, path: activePath)]) }
            logger.log(.error, "could not move \(activePath) to done/: \(error); trying again at the next rescan",
                       fields: ["FLOWD_RUN": "\(runID)"])
            unfinishedSpoolMoves.append(.finish(runID: runID, workflow: workflow, activePath: activePath))
        }
    }
}

extension JSONValue {
    /// Truthiness of `if:` conditions: false, null, 0, "", [] and {} are false.
    var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let flag): flag
        case .int(let number): number != 0
        case .double(let number): number != 0
        case .string(let text): !text.isEmpty
        case .array(let items): !items.isEmpty
        case .object(let members): !members.isEmpty
        }
    }
}
