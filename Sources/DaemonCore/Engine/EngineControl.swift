// EngineControl.swift: what an operator can do to workflows and runs (SPEC section 4):
// pause and resume (with --set changes), and answers to approval steps.
//
// Pausing a workflow stops new runs from starting; its spool files wait in incoming/
// and its queued runs wait in the queue; the state survives restarts. Pausing a run
// stops it at the next step boundary (the running step finishes; with kill it is
// stopped and tried again on resume); timers go on, and answers and cancels received
// while paused apply on resume. All entry points run on the loop thread and return a
// user-facing error text, or nil on success.

import Foundation

extension Engine {
    // MARK: Workflows

    func pauseWorkflow(_ name: String) -> String? {
        guard definitions.workflows[name] != nil else { return "no workflow \(name)" }
        guard pausedWorkflows.insert(name).inserted else { return nil }
        journal.submit([.workflowPaused(workflow: name, paused: true, at: WallClock.nowMicroseconds())])
        publishWorkflows()
        return nil
    }

    func resumeWorkflow(_ name: String) -> String? {
        guard definitions.workflows[name] != nil || pausedWorkflows.contains(name) else { return "no workflow \(name)" }
        guard pausedWorkflows.remove(name) != nil else { return nil }
        journal.submit([.workflowPaused(workflow: name, paused: false, at: WallClock.nowMicroseconds())])
        publishWorkflows()
        for file in spool.pendingFiles(name) where acceptsNewRuns { intake(workflow: name, name: file) }
        dispatch()
        return nil
    }

    // MARK: Runs

    func pauseRun(_ runID: Int64, kill: Bool) -> String? {
        guard var run = runs[runID] else { return "run \(runID) is not active" }
        guard !run.pauseRequested else { return nil }
        run.pauseRequested = true
        if run.current == nil || run.state == .queued {
            run.state = .paused
            journal.submit([.runStatus(runID: runID, status: "paused")])
        } else if kill, let cancellation = run.current?.cancellation {
            run.current?.stoppedByPause = true
            cancellation.cancel()
        }
        runs[runID] = run
        if run.parallel != nil { pauseItems(runID, kill: kill) }
        events.publish(["kind": "run_paused"], runID: runID, workflow: run.definition.name)
        publishCounts()
        return nil
    }

    /// Resumes a paused run; `changes` set vars or inputs of steps not started yet
    /// (EngineResumeChanges.swift).
    func resumeRun(_ runID: Int64, changes: [String: JSONValue]) -> String? {
        guard var run = runs[runID] else { return "run \(runID) is not active" }
        if let problem = applyResumeChanges(&run, changes) { return problem }
        if run.parallel != nil && run.state != .paused {
            runs[runID] = run
            if resumeInterruptedItems(runID) {
                dispatch()
                return nil
            }
        }
        if run.state == .interrupted, var current = run.current {
            // After a restart: run the interrupted step again, as a new attempt.
            current.attempt += 1
            run.current = current
            run.state = .running
            run.failureError = nil
            runs[runID] = run
            journal.submit([.runStatus(runID: runID, status: "running")])
            startAttempt(runID)
            dispatch()
            return nil
        }
        let wasPaused = run.pauseRequested
        run.pauseRequested = false
        if run.state == .paused {
            run.state = run.started ? .running : .queued
            journal.submit([.runStatus(runID: runID, status: run.started ? "running" : "queued")])
        }
        runs[runID] = run
        guard wasPaused else { return changes.isEmpty ? "run \(runID) is not paused" : nil }
        events.publish(["kind": "run_resumed"], runID: runID, workflow: run.definition.name)
        if let current = run.current, current.stoppedByPause {
            runs[runID]?.current?.stoppedByPause = false
            startAttempt(runID)
        } else if run.started {
            advance(runID)
        }
        if runs[runID]?.parallel != nil { resumeItems(runID) }
        dispatch()
        return nil
    }

    /// At a step boundary: stop here if a pause was asked for. True when paused.
    func holdIfPaused(_ runID: Int64) -> Bool {
        // Checked in place: this runs before every step, and a copy of the run costs.
        guard readRun(runID, { $0.pauseRequested && $0.current == nil }) == true, var run = runs[runID] else { return false }
        if run.state != .paused {
            run.state = .paused
            runs[runID] = run
            journal.submit([.runStatus(runID: runID, status: "paused")])
            publishCounts()
            if let owner = run.branchOf { settleParallelPause(owner) }
        }
        return true
    }

    // MARK: Approvals

    /// Runs waiting for an answer, for `flowadm prompts`.
    func prompts() -> [JSONValue] {
        runs.values.sorted { ($0.id, $0.itemIndex ?? -1) < ($1.id, $1.itemIndex ?? -1) }.compactMap { run -> JSONValue? in
            guard let current = run.current, let prompt = current.prompt, case .approval(let approval) = current.definition.kind else {
                return nil
            }
            return .object([
                "run": .int(run.id), "workflow": .string(run.definition.name), "step": .string(current.definition.id),
                "prompt": .string(prompt), "item": run.itemIndex.map { .int(Int64($0)) } ?? .null,
                "fields": .array(approval.fields.map { field in
                    .object(["name": .string(field.name), "type": .string(field.type.rawValue), "required": .bool(field.required),
                             "enum": field.allowedValues.map(JSONValue.array) ?? .null,
                             "pattern": field.pattern.map(JSONValue.string) ?? .null])
                }),
                "waiting_since": current.waitingSince.map { .string(WallClock.rfc3339(microseconds: $0)) } ?? .null,
                "deadline": current.deadline.map { .string(WallClock.rfc3339(microseconds: $0)) } ?? .null,
                "paused": .bool(run.pauseRequested),
            ])
        }
    }

    /// Answers the approval step `stepID` (or the run's waiting one) of run `runID`.
    func answer(_ runID: Int64, stepID: String?, approve: Bool, fields: [String: JSONValue], byUID uid: UInt32) -> String? {
        // In a parallel foreach: the first item (in item order) waiting at that step.
        if runs[runID]?.parallel != nil, let key = firstItem(of: runID, where: {
            $0.current?.prompt != nil && (stepID == nil || $0.current?.definition.id == stepID)
        }) {
            return answer(key, stepID: stepID, approve: approve, fields: fields, byUID: uid)
        }
        guard let run = runs[runID], let current = run.current, current.prompt != nil,
              case .approval(let approval) = current.definition.kind else {
            return "run \(runID) is not waiting for an approval"
        }
        if let stepID, stepID != current.definition.id { return "run \(runID) waits at step \(current.definition.id), not \(stepID)" }
        var values = fields
        if approve {
            if let problem = Self.validate(fields: fields, against: approval.fields) { return problem }
            for field in approval.fields where values[field.name] == nil { values[field.name] = .null }
        }
        let output: JSONValue = ["approved": .bool(approve), "fields": .object(values), "by": ["uid": .int(Int64(uid))]]
        endApproval(runID, status: approve ? "succeeded" : "failed", output: output,
                    error: approve ? nil : "rejected by uid \(uid)")
        return nil
    }

    func endApproval(_ runID: Int64, status: String, output: JSONValue, error: String?) {
        guard var run = runs[runID], var current = run.current else { return }
        if let timer = current.timer { loop.cancel(timer) }
        current.timer = nil
        current.prompt = nil
        run.current = current
        run.state = .running
        runs[runID] = run
        journal.submit([.attemptFinished(Self.attemptEnd(runID, current, status: status, output: output, error: error)),
                        .runStatus(runID: runID, status: run.pauseRequested ? "paused" : "running")])
        settleParallelWaiting(of: runID)
        announce(run, current, status: status, exitCode: nil, durationMilliseconds: 0, error: error, output: output)
        stepEnded(runID, status: status, output: output, exitCode: nil, error: error)
        advance(runID)
        publishCounts()
    }

    /// Checks an approval's fields: required, type, enum, pattern. Nil when valid.
    static func validate(fields: [String: JSONValue], against declared: [ApprovalField]) -> String? {
        let known = Set(declared.map(\.name))
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            return "unknown field \"\(unknown)\"; this approval asks for: \(declared.map(\.name).joined(separator: ", "))"
        }
        for field in declared {
            guard let value = fields[field.name], value != .null else {
                if field.required { return "field \"\(field.name)\" is required" }
                continue
            }
            switch (field.type, value) {
            case (.string, .string), (.boolean, .bool), (.number, .int), (.number, .double), (.integer, .int): break
            default: return "field \"\(field.name)\" must be \(field.type.rawValue == "integer" ? "an" : "a") \(field.type.rawValue)"
            }
            if let allowed = field.allowedValues, !allowed.contains(value) {
                return "field \"\(field.name)\" must be one of \(allowed.map { $0.serialized() }.joined(separator: ", "))"
            }
            if let pattern = field.pattern, case .string(let text) = value {
                let expression = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$")
                if expression?.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                    return "field \"\(field.name)\" does not match \(pattern)"
                }
            }
        }
        return nil
    }
}

// MARK: Replay

/// What a replay starts from: the original run as recorded, and the changes asked for.
struct ReplayRequest: Sendable {
    var originalID: Int64
    /// The definition to run: the original version's, or today's (nil: look it up by name).
    var definition: WorkflowDefinition?
    var workflow: String
    var payload: JSONValue
    var vars: [String: JSONValue]
    /// Re-execute from this top-level step; earlier steps keep their recorded outcomes.
    var fromStep: String?
    /// Recorded outcomes of the original run's steps, by step id (the last attempt).
    var recorded: [String: StepResult]
    /// The original's spool file (in done/) when it is still there: the replay's
    /// `trigger.file` and $FLOWD_TRIGGER_FILE, so steps that read the file work again.
    var triggerFile: String? = nil
}

extension Engine {
    /// Starts the replay run; returns its id, or a user-facing error.
    func replay(_ request: ReplayRequest) -> Result<Int64, ReplayError> {
        guard phase == .running else { return .failure(ReplayError(message: "flowd is stopping; no new runs")) }
        guard let definition = request.definition ?? definitions.workflows[request.workflow] else {
            return .failure(ReplayError(message: "workflow \(request.workflow) is not loaded now; replay without --current"))
        }
        var startIndex = 0
        if let fromStep = request.fromStep {
            guard let index = definition.steps.firstIndex(where: { $0.id == fromStep }) else {
                return .failure(ReplayError(message: "\(fromStep) is not a top-level step of the version being replayed"))
            }
            startIndex = index
        }
        let reusedSteps = definition.steps[..<startIndex]
        let id = createRun(definition: definition, payload: request.payload,
                           trigger: TriggerInfo(kind: "replay", name: "run \(request.originalID)", file: request.triggerFile),
                           replayOf: request.originalID) { run in
            run.vars.merge(request.vars) { $1 }
            run.frames[0].index = startIndex
            var writes: [JournalWrite] = []
            let now = WallClock.nowMicroseconds()
            for step in reusedSteps {
                let result = request.recorded[step.id] ?? StepResult(status: "skipped", output: .null, exitCode: nil, attempts: 0)
                run.results[step.id] = result
                if result.status != "succeeded" && result.status != "skipped" && !step.continueOnError { run.frames[0].failed = true }
                let current = CurrentStep(definition: step, sequence: run.nextSequence, attempt: 1, needsWorker: false)
                run.nextSequence += 1
                var end = Self.attemptEnd(run.id, current, status: "reused", output: result.output,
                                          error: "outcome reused from run \(request.originalID): \(result.status)")
                end.exitCode = result.exitCode
                writes.append(.attemptStarted(runID: run.id, stepIndex: current.sequence, stepID: step.id, attempt: 1, at: now,
                                              kind: step.kind.name,
                                              input: ["reused_from": .int(request.originalID), "status": .string(result.status)],
                                              wakeAt: nil))
                writes.append(.attemptFinished(end))
            }
            return writes
        }
        return .success(id)
    }
}

struct ReplayError: Error { var message: String }

// MARK: Spool files

extension Engine {
    /// hold: incoming/W/NAME → hold/W/NAME. release: back to incoming/ (claimed as usual).
    /// requeue: rejected/W/NAME → incoming/ (its .reason removed). delete: a held or
    /// rejected file (and its .reason) is removed. Returns an error text or nil.
    func manageSpoolFile(action: String, workflow: String, name: String) -> String? {
        guard WorkflowLoader.isValidName(workflow), !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            return "invalid workflow or file name"
        }
        let root = paths.spoolDirectory
        func move(_ from: String, _ to: String) -> String? {
            do {
                try FileSystem.makeDirectories(to)
                try FileSystem.renameWithoutReplacing(from + "/" + name, to + "/" + name)
                return nil
            } catch where error.errno == ENOENT {
                return "no file \(name) in \(from)"
            } catch where error.errno == EEXIST {
                return "\(to)/\(name) exists already"
            } catch {
                return "\(error)"
            }
        }
        switch action {
        case "hold":
            return move(root + "/incoming/" + workflow, root + "/hold/" + workflow)
        case "release":
            return move(root + "/hold/" + workflow, root + "/incoming/" + workflow)
        case "requeue":
            if let problem = move(root + "/rejected/" + workflow, root + "/incoming/" + workflow) { return problem }
            try? FileSystem.removeFile(root + "/rejected/" + workflow + "/" + name + ".reason")
            return nil
        case "delete":
            for directory in [root + "/hold/" + workflow, root + "/rejected/" + workflow] {
                let path = directory + "/" + name
                guard (try? FileSystem.status(path)) != nil else { continue }
                do {
                    try FileSystem.removeFile(path)
                    try? FileSystem.removeFile(path + ".reason")
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            return "no held or rejected file \(workflow)/\(name) (files in incoming/ are held first)"
        default:
            return "unknown action \(action)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
