// EngineRecovery.swift: picking up the runs a stopped or crashed daemon left (SPEC 5).
//
// At start every unfinished run is rebuilt from the journal with the definition version
// it started with (its source text is journaled per version). Queued runs queue again.
// A started run walks its definition again, but each step the journal recorded is not
// executed: its recorded outcome is applied, so no step recorded as finished ever runs
// again. The step that was in flight decides what happens next: a sleep re-arms its
// timer from the recorded wake time; a pending retry starts its next attempt; an
// `idempotent: true` step runs again as a new attempt; any other step (it may have done
// its side effect) puts the run in `interrupted`, where it waits for `flowadm resume`
// (run it again), `flowadm skip` (count it as succeeded with an empty output) or
// `flowadm cancel`. Claimed spool files whose run was never recorded get their run.

extension Engine {
    /// Rebuilds the unfinished runs; called by start() before the engine accepts work.
    func recoverUnfinishedRuns(_ reader: JournalReader) throws {
        var recovered = 0, lost = 0
        let now = WallClock.nowMicroseconds()
        for record in try reader.unfinishedRuns() {
            guard let definition = recordedDefinition(record, reader: reader) else {
                lost += 1
                journal.submit([.runningAttemptsInterrupted(runID: record.id, at: now),
                                .runFinished(runID: record.id, status: "interrupted", at: now, failedStep: nil,
                                             error: "its definition version \(record.version.prefix(12)) is not in the journal")])
                continue
            }
            recovered += 1
            var trigger = TriggerInfo(kind: record.triggerKind, name: record.triggerName, file: record.spoolPath)
            if let path = record.spoolPath, let status = try? FileSystem.status(path) {
                trigger.size = status.size
                trigger.modificationTime = status.modificationTime
                trigger.ownerUID = status.ownerUID
            }
            var run = ActiveRun(id: record.id, definition: definition, payload: record.payload, trigger: trigger, parentRun: record.parentRun)
            run.replayOf = record.replayOf
            run.vars = record.vars
            // What operators changed with resume --set, applied again in order.
            for changes in record.resumeChanges { _ = applyResumeChanges(&run, changes) }
            run.recorded = record.steps
            run.nextSequence = (record.steps.map(\.sequence).max() ?? -1) + 1
            run.pauseRequested = record.status == "paused"
            guard let startedAt = record.startedAt else {
                enqueue(run)
                continue
            }
            run.state = .running
            run.started = true
            run.startedAt = startedAt
            if let timeout = definition.timeout {
                let remaining = Duration.microseconds(max(0, startedAt + timeout.milliseconds * 1000 - now))
                run.runTimer = loop.schedule(after: remaining) { [self] in stop(record.id, reason: .timedOut(timeout)) }
            }
            runs[run.id] = run
            runningPerWorkflow[definition.name, default: 0] += 1
            recoveringRuns.append(run.id)
        }
        if recovered + lost > 0 {
            logger.log(.notice, "recovered \(recovered) unfinished run(s) from the journal" + (lost > 0 ? "; \(lost) could not be" : ""))
        }
    }

    /// Walks the recovered started runs forward (after the engine is running).
    func resumeRecoveredRuns() {
        let ids = recoveringRuns
        recoveringRuns = []
        for id in ids { advance(id) }
        dispatch()
    }

    private func recordedDefinition(_ record: RecordedRun, reader: JournalReader) -> WorkflowDefinition? {
        if let current = definitions.workflows[record.workflow], current.version == record.version { return current }
        guard let source = (try? reader.definition(hash: record.version))??.source else { return nil }
        return try? WorkflowLoader.load(text: source, path: "journal:\(record.version.prefix(12))/\(record.workflow).yaml")
    }

    /// Applies one recorded step execution during recovery.
    func consumeRecorded(_ runID: Int64, _ recorded: RecordedStep, step: StepDefinition, frameFailed: Bool) {
        guard var run = runs[runID] else { return }
        var current = CurrentStep(definition: step, sequence: recorded.sequence, attempt: recorded.attempts, needsWorker: false)
        // An attempt recorded `interrupted` (by a SIGTERM stop, or by an earlier recovery
        // whose run then waited for an operator) is decided again like one in flight: a
        // second restart must not turn it into a failure.
        let interrupted = recorded.finished && recorded.status == "interrupted"
        if recorded.finished && !interrupted {
            switch recorded.status {
            case "skipped":
                run.frames[run.frames.count - 1].index += 1
                run.results[step.id] = StepResult(status: "skipped", output: .null, exitCode: nil, attempts: 0)
                runs[runID] = run
            case "failed" where recorded.retryExpected, "timed_out" where recorded.retryExpected:
                // The retry's backoff was running: the next attempt starts now.
                current.attempt += 1
                run.current = current
                runs[runID] = run
                startAttempt(runID)
            default:
                run.current = current
                runs[runID] = run
                if case .foreach(let foreach) = step.kind, recorded.status == "succeeded",
                   let items = try? template(foreach.items).evaluate(in: run.expressionContext(step: step, attempt: 1, credentials: credentials.expressionValue)).arrayValue {
                    enterForeachItems(runID, step: step, loop: foreach, items: items)
                } else {
                    let status = recorded.status == "reused" ? "succeeded" : recorded.status
                    stepEnded(runID, status: status, output: recorded.output, exitCode: recorded.exitCode, error: recorded.error)
                }
            }
            return
        }
        // The attempt was in flight when the daemon stopped.
        if case .sleep = step.kind, let wakeAt = recorded.wakeAt {
            current.timer = loop.schedule(after: .microseconds(max(0, wakeAt - WallClock.nowMicroseconds()))) { [self] in
                finishWaitingAttempt(runID, status: "succeeded", error: nil)
            }
            run.current = current
            run.state = .waiting
            runs[runID] = run
            return
        }
        if !interrupted {
            let now = WallClock.nowMicroseconds()
            journal.submit([.attemptFinished(AttemptEnd(runID: runID, stepIndex: recorded.sequence, attempt: recorded.attempts,
                                                        status: "interrupted", endedAt: now, exitCode: nil, signal: nil,
                                                        standardOutput: "", standardError: "", standardOutputBytes: 0,
                                                        standardErrorBytes: 0, error: "the daemon stopped during this attempt"))])
        }
        let safeToRepeat: Bool
        switch step.kind {
        case .approval, .sleep: safeToRepeat = true  // asking again or waiting again does nothing outside
        default: safeToRepeat = step.idempotent
        }
        guard safeToRepeat else {
            return interrupt(runID, step: step, sequence: recorded.sequence, attempt: recorded.attempts,
                             reason: "step \(step.id) was running when the daemon stopped and is not idempotent; "
                                + "flowadm resume runs it again, flowadm skip counts it as succeeded, flowadm cancel ends the run")
        }
        current.attempt += 1
        run.current = current
        runs[runID] = run
        startAttempt(runID)
    }

    /// Puts a run in `interrupted`: it waits for an operator (resume, skip, cancel).
    func interrupt(_ runID: Int64, step: StepDefinition, sequence: Int, attempt: Int, reason: String) {
        guard var run = runs[runID] else { return }
        run.current = CurrentStep(definition: step, sequence: sequence, attempt: attempt, needsWorker: false)
        run.recorded = []
        run.state = .interrupted
        run.failureError = reason
        runs[runID] = run
        journal.submit([.runStatus(runID: runID, status: "interrupted")])
        logger.log(.warning, "run \(runID) of \(run.definition.name) is interrupted: \(reason)",
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STEP": step.id,
                            "FLOWD_STATUS": "interrupted"])
        events.publish(["kind": "run_interrupted", "step": .string(step.id), "reason": .string(reason)],
                       runID: runID, workflow: run.definition.name)
        publishCounts()
    }

    /// flowadm skip RUN STEP: the interrupted step counts as succeeded with an empty output.
    func skip(_ runID: Int64, stepID: String, byUID uid: UInt32) -> String? {
        // In a parallel foreach: the first interrupted item at that step.
        if runs[runID]?.parallel != nil,
           let key = firstItem(of: runID, where: { $0.state == .interrupted && $0.current?.definition.id == stepID }) {
            let problem = skip(key, stepID: stepID, byUID: uid)
            settleInterruptedItems(runID)
            return problem
        }
        guard var run = runs[runID], run.state == .interrupted, var current = run.current else {
            return "run \(runID) is not interrupted"
        }
        guard current.definition.id == stepID else { return "run \(runID) is interrupted at step \(current.definition.id), not \(stepID)" }
        current.attempt += 1
        run.current = current
        run.state = .running
        run.failureError = nil
        runs[runID] = run
        let now = WallClock.nowMicroseconds()
        var end = Self.attemptEnd(runID, current, status: "succeeded", output: .null, error: nil)
        end.retryReason = "skipped by uid \(uid): counted as succeeded with an empty output"
        journal.submit([.attemptStarted(runID: runID, stepIndex: current.sequence, stepID: stepID, attempt: current.attempt, at: now,
                                        kind: current.definition.kind.name, input: ["skipped_by": .int(Int64(uid))], wakeAt: nil),
                        .attemptFinished(end), .runStatus(runID: runID, status: "running")])
        stepEnded(runID, status: "succeeded", output: .null, exitCode: nil, error: nil)
        advance(runID)
        dispatch()
        return nil
    }

    /// Claimed files whose run the journal never recorded (a crash between the claim and
    /// the record) get their run; files of finished runs still in active/ go to done/.
    func reconcileActiveSpool(_ reader: JournalReader) {
        for file in spool.claimedFiles() {
            switch try? reader.runStatus(id: file.runID) {
            case nil:
                adoptClaimedFile(path: file.path, workflow: file.workflow, name: file.name, runID: file.runID)
            case let status? where ["succeeded", "failed", "cancelled"].contains(status):
                if let done = try? spool.finish(activePath: file.path, workflow: file.workflow) {
                    journal.submit([.runSpoolPath(runID: file.runID, path: done)])
                }
            default:
                break
            }
        }
    }

    private func adoptClaimedFile(path: String, workflow: String, name: String, runID: Int64) {
        guard let definition = definitions.workflows[workflow], let format = definition.spoolFormat,
              let status = try? FileSystem.status(path),
              let bytes = try? FileSystem.readRegularFile(path, maxBytes: configuration.spoolMaxFileSize),
              case .success(let payload) = PayloadDecoder.decode(bytes, format: format, fileName: name) else {
            _ = try? spool.reject(path: path, name: name, workflow: workflow,
                                  reason: "\(name): claimed before a restart, but it no longer fits workflow \(workflow)")
            return
        }
        logger.log(.notice, "claimed file \(name) had no run recorded; it gets run \(runID)", fields: ["FLOWD_WORKFLOW": workflow])
        createRun(definition: definition, payload: payload, trigger: TriggerInfo(
            kind: "spool", name: name, file: path, size: status.size, modificationTime: status.modificationTime,
            ownerUID: status.ownerUID), id: runID)
    }
}
