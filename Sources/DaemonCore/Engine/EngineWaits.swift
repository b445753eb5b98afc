// EngineWaits.swift: attempts that wait without a worker: sleep, approval, and trigger
// steps that wait for the run they started. Each is a timer or a callback on the loop;
// the run is journaled as `waiting` meanwhile.

extension Engine {
    // MARK: Sleep

    func startSleep(_ runID: Int64, sleep: SleepStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        let wakeAt: Int64
        switch sleep {
        case .duration(let duration):
            wakeAt = WallClock.nowMicroseconds() + duration.milliseconds * 1000
        case .until(let text):
            guard let rendered = try? template(text).evaluateToString(in: context),
                  let instant = WallClock.parseRFC3339(rendered) else {
                return recordInline(runID, status: "failed", output: .null, error: "sleep until: \"\(text)\" is not an RFC 3339 UTC time")
            }
            wakeAt = instant
        }
        let delay = Duration.microseconds(max(0, wakeAt - WallClock.nowMicroseconds()))
        current.input = ["until": .string(WallClock.rfc3339(microseconds: wakeAt))]
        current.timer = loop.schedule(after: delay) { [self] in finishWaitingAttempt(runID, status: "succeeded", error: nil) }
        run.current = current
        run.state = .waiting
        runs[runID] = run
        journal.submit([.attemptStarted(runID: runID, stepIndex: current.sequence, stepID: current.definition.id,
                                        attempt: current.attempt, at: WallClock.nowMicroseconds(), kind: "sleep",
                                        input: current.input, wakeAt: wakeAt),
                        .runStatus(runID: runID, status: "waiting")])
        settleParallelWaiting(of: runID)
        events.publish(["kind": "attempt_started", "step": .string(current.definition.id), "attempt": .int(Int64(current.attempt))],
                       runID: runID, workflow: run.definition.name)
        publishCounts()
    }

    func startApproval(_ runID: Int64, approval: ApprovalStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        let now = WallClock.nowMicroseconds()
        let prompt = (try? template(approval.prompt).evaluateToString(in: context)) ?? approval.prompt
        current.prompt = prompt
        current.waitingSince = now
        current.input = ["prompt": .string(prompt)]
        if let timeout = approval.timeout {
            current.deadline = now + timeout.milliseconds * 1000
            current.timer = loop.schedule(after: timeout) { [self] in
                let byTimeout: JSONValue = ["timeout": true]
                switch approval.onTimeout {
                case .approve:
                    endApproval(runID, status: "succeeded", output: ["approved": true, "fields": [:], "by": byTimeout], error: nil)
                case .reject:
                    endApproval(runID, status: "failed", output: ["approved": false, "fields": [:], "by": byTimeout],
                                error: "no answer within \(DurationText.format(timeout)); rejected")
                case .fail:
                    endApproval(runID, status: "failed", output: .null, error: "no answer within \(DurationText.format(timeout))")
                }
            }
        }
        run.current = current
        run.state = .waiting
        runs[runID] = run
        journal.submit([.attemptStarted(runID: runID, stepIndex: current.sequence, stepID: current.definition.id,
                                        attempt: current.attempt, at: now, kind: "approval", input: current.input,
                                        wakeAt: current.deadline),
                        .runStatus(runID: runID, status: "waiting")])
        settleParallelWaiting(of: runID)
        events.publish(["kind": "approval_requested", "step": .string(current.definition.id), "prompt": .string(prompt)],
                       runID: runID, workflow: run.definition.name)
        logger.log(.notice, "run \(runID) waits for an approval at step \(current.definition.id): \(prompt)",
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STEP": current.definition.id])
        publishCounts()
    }

    /// Starts a run of another workflow; with wait, the step ends when that run does.
    func startTriggerStep(_ runID: Int64, trigger: TriggerStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        guard let definition = definitions.workflows[trigger.workflow] else {
            return recordInline(runID, status: "failed", output: .null, error: "trigger: no workflow \(trigger.workflow) is loaded")
        }
        let payload: JSONValue
        do {
            payload = try Self.evaluateTemplates(in: trigger.payload, context: context, parse: template)
        } catch {
            return recordInline(runID, status: "failed", output: .null, error: "trigger: \(error.message)")
        }
        if trigger.wait, let problem = triggerWouldDeadlock(waiter: run.id, workflow: definition) {
            return recordInline(runID, status: "failed", output: .null, error: "trigger: \(problem)")
        }
        let enclosing = childrenEndedAtOnce  // a trigger step of a child created just now may nest
        childrenEndedAtOnce = [:]
        let childID = createRun(definition: definition, payload: payload,
                                trigger: TriggerInfo(kind: "step", name: "run \(runID) step \(current.definition.id)"), parentRun: runID)
        let endedAtOnce = childrenEndedAtOnce?[childID]
        childrenEndedAtOnce = enclosing
        guard trigger.wait else {
            return recordInline(runID, status: "succeeded", output: ["run": .int(childID), "status": "queued"], error: nil)
        }
        current.input = ["workflow": .string(trigger.workflow), "run": .int(childID)]
        run.current = current
        run.state = .waiting
        runs[runID] = run
        journal.submit([.attemptStarted(runID: runID, stepIndex: current.sequence, stepID: current.definition.id,
                                        attempt: current.attempt, at: WallClock.nowMicroseconds(), kind: "trigger",
                                        input: current.input, wakeAt: nil),
                        .runStatus(runID: runID, status: "waiting")])
        settleParallelWaiting(of: runID)
        let sequence = current.sequence
        let waiter = { [self] (status: String) in
            guard var run = runs[runID], let current = run.current, current.sequence == sequence else { return }
            let output: JSONValue = ["run": .int(childID), "status": .string(status)]
            let error = status == "succeeded" ? nil : "triggered run \(childID) of \(trigger.workflow) ended \(status)"
            run.state = .running
            runs[runID] = run
            journal.submit([.attemptFinished(Self.attemptEnd(runID, current, status: status == "succeeded" ? "succeeded" : "failed",
                                                             output: output, error: error)),
                            .runStatus(runID: runID, status: "running")])
            settleParallelWaiting(of: runID)
            announce(run, current, status: status == "succeeded" ? "succeeded" : "failed", exitCode: nil, durationMilliseconds: 0,
                     error: error, output: output)
            if current.abandoned {
                runs[runID]?.current = nil
            } else {
                stepEnded(runID, status: status == "succeeded" ? "succeeded" : "failed", output: output, exitCode: nil, error: error)
            }
            advance(runID)
        }
        runWaiters[childID, default: []].append(waiter)
        if let endedAtOnce {
            // The child ended inside createRun, before this step could wait for it.
            loop.execute { [self] in
                for waiter in runWaiters.removeValue(forKey: childID) ?? [] { waiter(endedAtOnce) }
            }
        }
        publishCounts()
    }

    /// A timer-held attempt (sleep) ends: woken, or cancelled.
    func finishWaitingAttempt(_ runID: Int64, status: String, error: String?) {
        guard var run = runs[runID], let current = run.current else { return }
        run.state = .running
        runs[runID] = run
        journal.submit([.attemptFinished(Self.attemptEnd(runID, current, status: status, output: .null, error: error)),
                        .runStatus(runID: runID, status: "running")])
        settleParallelWaiting(of: runID)
        announce(run, current, status: status, exitCode: nil, durationMilliseconds: 0, error: error, output: .null)
        if current.abandoned {
            run.current = nil
            runs[runID] = run
        } else {
            stepEnded(runID, status: status, output: .null, exitCode: nil, error: error)
            advance(runID)
        }
        publishCounts()
    }
}

extension Engine {
    /// A trigger step of run `waiter` about to wait for a new run of `workflow`: when
    /// every slot of that workflow is held by `waiter` or runs waiting (through trigger
    /// steps) for it, the new run could never start. Returns why, or nil.
    func triggerWouldDeadlock(waiter: Int64, workflow: WorkflowDefinition) -> String? {
        let holders = runs.values.filter { $0.branchOf == nil && $0.started && $0.definition.name == workflow.name }.map(\.id)
        guard runningPerWorkflow[workflow.name, default: 0] >= workflow.concurrency, !holders.isEmpty else { return nil }
        // The runs that cannot end before `waiter` does: itself, and up its parent runs
        // while each waits for the one below (its input names the child once it is set).
        var blocked: Set<Int64> = [waiter]
        var child = waiter
        while let parentID = runs[child]?.parentRun, let parent = runs[parentID], let current = parent.current,
              case .trigger(let step) = current.definition.kind, step.wait,
              (current.input["run"]?.intValue ?? child) == child, blocked.insert(parentID).inserted {
            child = parentID
        }
        guard holders.allSatisfy(blocked.contains) else { return nil }
        let others = holders.filter { $0 != waiter }.sorted().map { "run \($0)" }
        let held = others.isEmpty ? "this run" : others.joined(separator: ", ") + (holders.contains(waiter) ? " and this run" : "")
        return "a run of \(workflow.name) could not start before this run ends (\(workflow.name) allows "
            + "\(workflow.concurrency) at once, held by \(held), "
            + (holders.count == 1 ? "which waits" : "which wait") + " for this step): it would wait forever"
    }
}
