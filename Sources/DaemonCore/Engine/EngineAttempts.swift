// EngineAttempts.swift: one attempt of one step, from start to verdict.
//
// In-process kinds (set, fail, foreach) are decided on the loop at once; a sleep is a
// timer. Process steps go to a worker only after their "attempt started" row commits.
// The verdict applies the retry policy (step's, else workflow's; Temporal's model):
// another attempt after a backoff timer that holds no worker, unless the exit code is
// non-retryable or the attempts are used up. Every attempt is journaled with the
// reason for what follows and whether the policy expected it.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a worker brings back from a process attempt.
struct ProcessAttemptResult: Sendable {
    var outcome: Result<ProcessOutcome, SystemError>
    /// KEY=value lines the step wrote to $FLOWD_OUTPUT.
    var outputFile: [UInt8]
}

/// What a worker brings back from any attempt.
enum WorkerResult: Sendable {
    case process(ProcessAttemptResult)
    case http(Result<HTTPResponse, HTTPClientError>)
}

extension Engine {
    /// Starts the run's current step (attempt `current.attempt`).
    func startAttempt(_ runID: Int64) {
        guard var run = runs[runID], var current = run.current else { return }
        let step = current.definition
        let context = run.expressionContext(step: step, attempt: current.attempt, credentials: credentials.expressionValue)
        switch step.kind {
        case .run, .http:
            current.needsWorker = true
            run.current = current
            runs[runID] = run
            if busyWorkers < attemptCapacity { startWorkerAttempt(runID: runID) } else { readyRuns.append(runID) }
        case .set(let values):
            do {
                var output: [String: JSONValue] = [:]
                for (key, value) in values { output[key] = try Self.evaluateTemplates(in: value, context: context) }
                recordInline(runID, status: "succeeded", output: .object(output), error: nil)
            } catch {
                recordInline(runID, status: "failed", output: .null, error: "set: \(error.message)")
            }
        case .fail(let message):
            let text = (try? Template.parse(message).evaluateToString(in: context)) ?? message
            recordInline(runID, status: "failed", output: .null, error: text)
        case .foreach(let foreach):
            do {
                let value = try Template.parse(foreach.items).evaluate(in: context)
                guard let items = value.arrayValue else {
                    return recordInline(runID, status: "failed", output: .null, error: "foreach: expected a list, found \(value.kindName)")
                }
                guard items.count <= foreach.maxItems else {
                    return recordInline(runID, status: "failed", output: .null,
                                        error: "foreach: \(items.count) items, over max_items (\(foreach.maxItems))")
                }
                let now = WallClock.nowMicroseconds()
                journal.submit([.attemptStarted(runID: runID, stepIndex: current.sequence, stepID: step.id, attempt: 1, at: now,
                                                kind: "foreach", input: ["items": .int(Int64(items.count))], wakeAt: nil),
                                .attemptFinished(Self.attemptEnd(runID, current, status: "succeeded", output: .null, error: nil))])
                enterForeach(runID, step: step, loop: foreach, items: items)
            } catch {
                recordInline(runID, status: "failed", output: .null, error: "foreach: \(error.message)")
            }
        case .sleep(let sleep):
            startSleep(runID, sleep: sleep, context: context)
        case .approval(let approval):
            startApproval(runID, approval: approval, context: context)
        case .trigger(let trigger):
            startTriggerStep(runID, trigger: trigger, context: context)
        case .uses:
            recordInline(runID, status: "failed", output: .null, error: "step kind '\(step.kind.name)' is not supported by this flowd yet")
        }
    }

    /// Journals an in-process attempt (started and ended at once) and ends the step.
    func recordInline(_ runID: Int64, status: String, output: JSONValue, error: String?) {
        guard let run = runs[runID], let current = run.current else { return }
        let now = WallClock.nowMicroseconds()
        journal.submit([
            .attemptStarted(runID: runID, stepIndex: current.sequence, stepID: current.definition.id, attempt: current.attempt,
                            at: now, kind: current.definition.kind.name, input: current.input, wakeAt: nil),
            .attemptFinished(Self.attemptEnd(runID, current, status: status, output: output, error: error)),
        ])
        announce(run, current, status: status, exitCode: nil, durationMilliseconds: 0, error: error, output: output)
        stepEnded(runID, status: status, output: output, exitCode: nil, error: error)
    }

    static func attemptEnd(_ runID: Int64, _ current: CurrentStep, status: String, output: JSONValue, error: String?) -> AttemptEnd {
        var end = AttemptEnd(runID: runID, stepIndex: current.sequence, attempt: current.attempt, status: status,
                             endedAt: WallClock.nowMicroseconds(), exitCode: nil, signal: nil, standardOutput: "", standardError: "",
                             standardOutputBytes: 0, standardErrorBytes: 0, error: error)
        end.output = output
        return end
    }

    /// Log line and live event for an ended attempt.
    func announce(_ run: ActiveRun, _ current: CurrentStep, status: String, exitCode: Int32?, durationMilliseconds: Int64,
                  error: String?, output: JSONValue, standardOutput: String = "", standardError: String = "", retryReason: String? = nil) {
        let error = error.map(credentials.redact), output = credentials.redact(output)
        let standardOutput = credentials.redact(standardOutput), standardError = credentials.redact(standardError)
        let level: LogLevel = status == "succeeded" || status == "skipped" ? .info : (retryReason != nil ? .warning : .error)
        logger.log(level, "run \(run.id) step \(current.definition.id) attempt \(current.attempt) \(status)"
                   + (error.map { ": \($0)" } ?? "") + (retryReason.map { "; \($0)" } ?? ""),
                   id: .stepAttemptFinished,
                   fields: ["FLOWD_RUN": "\(run.id)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STEP": current.definition.id,
                            "FLOWD_ATTEMPT": "\(current.attempt)", "FLOWD_STATUS": status, "FLOWD_DURATION_MS": "\(durationMilliseconds)"])
        events.publish(["kind": "attempt_finished", "step": .string(current.definition.id), "attempt": .int(Int64(current.attempt)),
                        "status": .string(status), "exit_code": exitCode.map { .int(Int64($0)) } ?? .null,
                        "duration_ms": .int(durationMilliseconds), "stdout": .string(standardOutput), "stderr": .string(standardError),
                        "error": error.map(JSONValue.string) ?? .null, "output": output,
                        "retry": retryReason.map(JSONValue.string) ?? .null],
                       runID: run.id, workflow: run.definition.name)
    }

    // MARK: Process attempts on workers

    /// Hands the current step (process or http) to a worker, after its start is committed.
    func startWorkerAttempt(runID: Int64) {
        guard phase == .running, var run = runs[runID], var current = run.current else { return }
        let step = current.definition
        let context = run.expressionContext(step: step, attempt: current.attempt, credentials: credentials.expressionValue)
        let cancellation = ProcessCancellation()
        let job: @Sendable () -> WorkerResult
        do {
            switch step.kind {
            case .run(let runStep):
                let outputPath = outputDirectory + "/\(runID)-\(current.sequence)-\(current.attempt)"
                let spec: ProcessSpec
                (spec, current.input) = try makeProcessSpec(run: run, step: step, runStep: runStep, attempt: current.attempt,
                                                            context: context, outputPath: outputPath)
                job = { [outputDirectory] in
                    try? FileSystem.makeDirectories(outputDirectory, mode: 0o700)
                    try? FileSystem.removeFile(outputPath)
                    try? FileSystem.createFile(outputPath, contents: [], mode: 0o600)
                    let result = Result { () throws(SystemError) -> ProcessOutcome in try ProcessRunner.run(spec, cancellation: cancellation) }
                    let written = (try? FileSystem.readRegularFile(outputPath, maxBytes: 1 << 20)) ?? []
                    try? FileSystem.removeFile(outputPath)
                    return .process(ProcessAttemptResult(outcome: result, outputFile: written))
                }
            case .http(let http):
                let spec: HTTPRequestSpec
                (spec, current.input) = try makeHTTPRequest(http, step: step, context: context)
                job = { .http(Result { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient.perform(spec, cancellation: cancellation) }) }
            default:
                preconditionFailure("only run and http steps go to workers")
            }
        } catch {
            run.current = current
            runs[runID] = run
            return recordInline(runID, status: "failed", output: .null, error: "\(error)")
        }
        current.cancellation = cancellation
        run.current = current
        runs[runID] = run
        busyWorkers += 1
        let sequence = current.sequence, attempt = current.attempt
        events.publish(["kind": "attempt_started", "step": .string(step.id), "attempt": .int(Int64(attempt))],
                       runID: runID, workflow: run.definition.name)
        journal.submit([.attemptStarted(runID: runID, stepIndex: sequence, stepID: step.id, attempt: attempt,
                                        at: WallClock.nowMicroseconds(), kind: step.kind.name, input: current.input,
                                        wakeAt: nil)]) { [self] outcome in
            guard case .success = outcome else {
                loop.execute { [self] in
                    busyWorkers -= 1
                    logger.log(.error, "journal write failed; run \(runID) step \(step.id) not started", fields: ["FLOWD_RUN": "\(runID)"])
                }
                return
            }
            workers.submit { [self] in
                let result = job()
                loop.execute { [self] in workerAttemptFinished(runID: runID, sequence: sequence, attempt: attempt, result) }
            }
        }
    }

    /// The request of an http step, with its templates evaluated.
    func makeHTTPRequest(_ http: HTTPStep, step: StepDefinition, context: ExpressionContext) throws -> (HTTPRequestSpec, JSONValue) {
        var spec = HTTPRequestSpec(method: http.method, url: try Template.parse(http.url).evaluateToString(in: context))
        for (name, value) in http.headers { spec.headers[name] = try Template.parse(value).evaluateToString(in: context) }
        for (name, value) in http.query { spec.query[name] = try Template.parse(value).evaluateToString(in: context) }
        if let body = http.body {
            spec.body = Array(try Self.evaluateTemplates(in: body, context: context).serialized().utf8)
            if !spec.headers.keys.contains(where: { $0.lowercased() == "content-type" }) { spec.headers["Content-Type"] = "application/json" }
        } else if let bodyFile = http.bodyFile {
            let path = try Template.parse(bodyFile).evaluateToString(in: context)
            do {
                spec.body = try FileSystem.readRegularFile(path, maxBytes: 64 << 20)
            } catch {
                throw StepPreparationError(message: "body_file: \(error)")
            }
        }
        spec.timeout = step.timeout ?? http.timeout ?? .seconds(30)
        spec.maxResponseBytes = max(configuration.outputLimit, 1 << 20)
        // Header values may hold credentials: the journal keeps their names only.
        let input: JSONValue = ["method": .string(spec.method), "url": .string(spec.url),
                                "headers": .array(spec.headers.keys.sorted().map(JSONValue.string)),
                                "query": .object(spec.query.mapValues(JSONValue.string)),
                                "body_bytes": .int(Int64(spec.body?.count ?? 0))]
        return (spec, input)
    }

    func makeProcessSpec(run: ActiveRun, step: StepDefinition, runStep: RunStep, attempt: Int, context: ExpressionContext,
                         outputPath: String) throws -> (ProcessSpec, JSONValue) {
        var environment = baseEnvironment
        for (key, value) in run.definition.environment.merging(step.environment, uniquingKeysWith: { $1 }) {
            environment[key] = try Template.parse(value).evaluateToString(in: context)
        }
        environment["FLOWD_RUN"] = String(run.id)
        environment["FLOWD_WORKFLOW"] = run.definition.name
        environment["FLOWD_STEP"] = step.id
        environment["FLOWD_ATTEMPT"] = String(attempt)
        environment["FLOWD_OUTPUT"] = outputPath
        environment["FLOWD_TRIGGER_FILE"] = run.trigger.file
        environment["FLOWD_TRIGGER_NAME"] = run.trigger.name
        guard runStep.user == nil && runStep.group == nil else {
            throw StepPreparationError(message: "user:/group: are not supported by this flowd yet")
        }
        var spec: ProcessSpec
        var input: [String: JSONValue] = [:]
        switch runStep.action {
        case .run(let command, let shell):
            let text = try Template.parse(command).evaluateToString(in: context)
            spec = ProcessSpec(executable: shell, arguments: ["-c", text], environment: environment)
            input["run"] = .string(text)
            input["shell"] = .string(shell)
        case .exec(let arguments):
            let argv = try arguments.map { try Template.parse($0).evaluateToString(in: context) }
            let program = Self.resolveProgram(argv[0], searchPath: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            spec = ProcessSpec(executable: program, arguments: Array(argv.dropFirst()), environment: environment)
            input["exec"] = .array(argv.map(JSONValue.string))
        }
        if let directory = step.workingDirectory {
            spec.workingDirectory = try Template.parse(directory).evaluateToString(in: context)
            input["cwd"] = spec.workingDirectory.map(JSONValue.string) ?? .null
        } else {
            spec.workingDirectory = workDirectory  // never the daemon's own working directory
        }
        if let standardInput = runStep.standardInput {
            spec.standardInput = Array(try Template.parse(standardInput).evaluateToString(in: context).utf8)
        }
        spec.timeout = step.timeout
        spec.outputLimit = configuration.outputLimit
        return (spec, .object(input))
    }

    struct StepPreparationError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A worker's attempt came back: judge it, then retry, end the step or stop.
    private func workerAttemptFinished(runID: Int64, sequence: Int, attempt: Int, _ result: WorkerResult) {
        busyWorkers -= 1
        defer {
            dispatch()
            if phase == .draining { drainIfIdle() }
        }
        guard var run = runs[runID], var current = run.current, current.sequence == sequence, current.attempt == attempt else { return }
        current.cancellation = nil
        run.current = current
        runs[runID] = run
        switch (result, current.definition.kind) {
        case (.process(let processResult), .run(let runStep)):
            judgeProcess(runID, run: run, current: current, runStep: runStep, processResult)
        case (.http(let response), .http(let http)):
            judgeHTTP(runID, run: run, current: current, http: http, response)
        default:
            preconditionFailure("a worker result of the wrong kind")
        }
    }

    private func judgeHTTP(_ runID: Int64, run: ActiveRun, current: CurrentStep, http: HTTPStep,
                           _ result: Result<HTTPResponse, HTTPClientError>) {
        var end = Self.attemptEnd(runID, current, status: "failed", output: .null, error: nil)
        var durationMilliseconds: Int64 = 0
        var retryCode: Int?
        switch result {
        case .success(let response):
            durationMilliseconds = response.duration.milliseconds
            end.output = response.stepOutput
            end.standardOutput = String(decoding: response.body.prefix(configuration.outputLimit), as: UTF8.self)
            end.standardOutputBytes = response.body.count
            end.exitCode = Int32(response.status)
            let expected = http.expect.isEmpty ? (200...299).contains(response.status) : http.expect.contains(response.status)
            if expected {
                end.status = "succeeded"
            } else {
                end.error = "HTTP \(response.status)" + (http.expect.isEmpty ? " (expected a 2xx status)"
                    : " (expected \(http.expect.map(String.init).joined(separator: ", ")))")
                retryCode = response.status
            }
        case .failure(.cancelled):
            end.status = current.abandoned ? "cancelled" : "interrupted"
            end.error = current.abandoned ? (run.failureError ?? "cancelled") : "stopped by the daemon's shutdown"
        case .failure(.timedOut(let limit)):
            end.status = "timed_out"
            end.error = "no answer within \(DurationText.format(limit))"
        case .failure(let error):
            end.error = "\(error)"
        }
        finishAttempt(runID, end: end, retryCode: retryCode, durationMilliseconds: durationMilliseconds)
    }

    private func judgeProcess(_ runID: Int64, run: ActiveRun, current: CurrentStep, runStep: RunStep, _ result: ProcessAttemptResult) {
        var end = Self.attemptEnd(runID, current, status: "failed", output: .null, error: nil)
        var durationMilliseconds: Int64 = 0
        var retryCode: Int?
        switch result.outcome {
        case .success(let outcome):
            end.standardOutput = String(decoding: outcome.standardOutput, as: UTF8.self)
            end.standardError = String(decoding: outcome.standardError, as: UTF8.self)
            end.standardOutputBytes = outcome.standardOutputBytes
            end.standardErrorBytes = outcome.standardErrorBytes
            durationMilliseconds = (outcome.endedAt - outcome.startedAt).milliseconds
            switch outcome.termination {
            case .exited(let code): end.exitCode = code
            case .signaled(let signal): end.signal = signal
            }
            if outcome.cancelled {
                end.status = current.abandoned ? "cancelled" : "interrupted"
                end.error = current.abandoned ? (run.failureError ?? "cancelled")
                    : (current.stoppedByPause ? "stopped by flowadm pause --kill" : "stopped by the daemon's shutdown")
            } else if outcome.timedOut {
                end.status = "timed_out"
                end.error = "timed out after \(DurationText.format(current.definition.timeout ?? .zero))"
            } else if end.exitCode == 0 {
                switch Self.parseOutput(runStep.outputs, standardOutput: end.standardOutput, outputFile: result.outputFile) {
                case .success(let output):
                    end.status = "succeeded"
                    end.output = output
                case .failure(let problem):
                    end.error = problem.message
                }
            } else if let code = end.exitCode {
                end.error = "exited with status \(code)"
                retryCode = Int(code)
            } else {
                end.error = "killed by signal \(end.signal ?? 0)"
            }
        case .failure(let error):
            end.error = "could not start: \(error)"
        }
        finishAttempt(runID, end: end, retryCode: retryCode, durationMilliseconds: durationMilliseconds)
    }

    /// Journals the attempt's end and decides: retry after a backoff, or end the step.
    func finishAttempt(_ runID: Int64, end: AttemptEnd, retryCode: Int?, durationMilliseconds: Int64) {
        guard var run = runs[runID], var current = run.current else { return }
        var end = end
        let policy = current.definition.retry ?? run.definition.retry ?? RetryPolicy()
        let retryable = ["failed", "timed_out"].contains(end.status) && !current.abandoned && phase == .running
        var delay: Duration?
        if retryable {
            let limit = policy.maxAttempts == 0 ? "unlimited" : "\(policy.maxAttempts)"
            if let retryCode, policy.nonRetryable.contains(retryCode) {
                end.retryReason = "\(retryCode) is non-retryable; no further attempt"
                end.retryExpected = false
            } else if policy.allowsRetry(after: current.attempt, code: retryCode) {
                var wait = policy.delay(beforeAttempt: current.attempt + 1)
                if policy.jitter { wait = wait * Double.random(in: 0.8...1.2) }
                delay = wait
                end.retryReason = "attempt \(current.attempt + 1) of \(limit) in \(DurationText.format(wait))"
                end.retryExpected = true
            } else if policy.maxAttempts > 1 {
                end.retryReason = "no attempts left (\(current.attempt) of \(limit))"
                end.retryExpected = false
            }
        }
        journal.submit([.attemptFinished(end)])
        announce(run, current, status: end.status, exitCode: end.exitCode, durationMilliseconds: durationMilliseconds,
                 error: end.error, output: end.output, standardOutput: end.standardOutput, standardError: end.standardError,
                 retryReason: delay == nil ? nil : end.retryReason)
        if end.status == "interrupted" && current.stoppedByPause {
            // flowadm pause --kill: the step runs again, as a new attempt, on resume.
            current.attempt += 1
            current.cancellation = nil
            run.current = current
            run.state = .paused
            runs[runID] = run
            journal.submit([.runStatus(runID: runID, status: "paused")])
            return
        }
        if end.status == "interrupted" {
            // Shutdown: the run stays as it is; the next start settles it (SPEC section 5).
            run.current = nil
            runs[runID] = run
            return
        }
        if current.abandoned {
            run.current = nil
            runs[runID] = run
            advance(runID)
            return
        }
        if let delay {
            current.attempt += 1
            current.timer = loop.schedule(after: delay) { [self] in
                guard var run = runs[runID], var current = run.current else { return }
                current.timer = nil
                run.current = current
                runs[runID] = run
                startAttempt(runID)
            }
            run.current = current
            runs[runID] = run
            return
        }
        stepEnded(runID, status: end.status, output: end.output, exitCode: end.exitCode, error: end.error)
        advance(runID)
    }

    // MARK: Sleep

    private func startSleep(_ runID: Int64, sleep: SleepStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        let wakeAt: Int64
        switch sleep {
        case .duration(let duration):
            wakeAt = WallClock.nowMicroseconds() + duration.milliseconds * 1000
        case .until(let text):
            guard let rendered = try? Template.parse(text).evaluateToString(in: context),
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
        events.publish(["kind": "attempt_started", "step": .string(current.definition.id), "attempt": .int(Int64(current.attempt))],
                       runID: runID, workflow: run.definition.name)
        publishCounts()
    }

    private func startApproval(_ runID: Int64, approval: ApprovalStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        let now = WallClock.nowMicroseconds()
        let prompt = (try? Template.parse(approval.prompt).evaluateToString(in: context)) ?? approval.prompt
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
        events.publish(["kind": "approval_requested", "step": .string(current.definition.id), "prompt": .string(prompt)],
                       runID: runID, workflow: run.definition.name)
        logger.log(.notice, "run \(runID) waits for an approval at step \(current.definition.id): \(prompt)",
                   fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_STEP": current.definition.id])
        publishCounts()
    }

    /// Starts a run of another workflow; with wait, the step ends when that run does.
    private func startTriggerStep(_ runID: Int64, trigger: TriggerStep, context: ExpressionContext) {
        guard var run = runs[runID], var current = run.current else { return }
        guard let definition = definitions.workflows[trigger.workflow] else {
            return recordInline(runID, status: "failed", output: .null, error: "trigger: no workflow \(trigger.workflow) is loaded")
        }
        let payload: JSONValue
        do {
            payload = try Self.evaluateTemplates(in: trigger.payload, context: context)
        } catch {
            return recordInline(runID, status: "failed", output: .null, error: "trigger: \(error.message)")
        }
        let childID = createRun(definition: definition, payload: payload,
                                trigger: TriggerInfo(kind: "step", name: "run \(runID) step \(current.definition.id)"), parentRun: runID)
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
        let sequence = current.sequence
        runWaiters[childID, default: []].append { [self] status in
            guard var run = runs[runID], let current = run.current, current.sequence == sequence else { return }
            let output: JSONValue = ["run": .int(childID), "status": .string(status)]
            let error = status == "succeeded" ? nil : "triggered run \(childID) of \(trigger.workflow) ended \(status)"
            run.state = .running
            runs[runID] = run
            journal.submit([.attemptFinished(Self.attemptEnd(runID, current, status: status == "succeeded" ? "succeeded" : "failed",
                                                             output: output, error: error)),
                            .runStatus(runID: runID, status: "running")])
            announce(run, current, status: status == "succeeded" ? "succeeded" : "failed", exitCode: nil, durationMilliseconds: 0,
                     error: error, output: output)
            if current.abandoned {
                runs[runID]?.current = nil
            } else {
                stepEnded(runID, status: status == "succeeded" ? "succeeded" : "failed", output: output, exitCode: nil, error: error)
            }
            advance(runID)
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

    // MARK: Outputs

    struct OutputProblem: Error { var message: String }

    /// The step's `output` from its stdout or $FLOWD_OUTPUT, per `outputs:`.
    static func parseOutput(_ format: OutputFormat, standardOutput: String, outputFile: [UInt8]) -> Result<JSONValue, OutputProblem> {
        switch format {
        case .text:
            return .success(.string(standardOutput))
        case .json:
            do {
                return .success(try JSONValue.parse(standardOutput))
            } catch {
                return .failure(OutputProblem(message: "outputs: json: stdout is not valid JSON: \(error)"))
            }
        case .lines:
            var lines = standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return .success(.array(lines.map(JSONValue.string)))
        case .env:
            var values: [String: JSONValue] = [:]
            for line in String(decoding: outputFile, as: UTF8.self).split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                values[String(line[..<equals])] = .string(String(line[line.index(after: equals)...]))
            }
            return .success(.object(values))
        }
    }

    /// Evaluates every string in a JSON value as a template (for `set:` values).
    static func evaluateTemplates(in value: JSONValue, context: ExpressionContext) throws(ExpressionError) -> JSONValue {
        switch value {
        case .string(let text): return try Template.parse(text).evaluate(in: context)
        case .array(let items):
            var result: [JSONValue] = []
            for item in items { result.append(try evaluateTemplates(in: item, context: context)) }
            return .array(result)
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, item) in members { result[key] = try evaluateTemplates(in: item, context: context) }
            return .object(result)
        default: return value
        }
    }
}

extension JSONValue {
    /// "a string", "a number", ... for messages.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "a mapping"
        }
    }
}
