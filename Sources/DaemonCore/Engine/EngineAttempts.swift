// EngineAttempts.swift: one attempt of one step, from start to verdict.
//
// In-process kinds (set, fail, foreach) are decided on the loop at once; waits (sleep,
// approval, trigger with wait) are in EngineWaits.swift; process and http steps go to a
// worker (EngineWorkers.swift) only after their "attempt started" row commits.
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
    case connector(ConnectorAttemptResult)
}

extension Engine {
    /// Starts the run's current step (attempt `current.attempt`).
    func startAttempt(_ runID: Int64) {
        // Read and changed in place (see advance()).
        let credentials = credentials.expressionValue
        guard case let (current?, context)? = readRun(runID, { run in
            (run.current, run.current.map { run.expressionContext(step: $0.definition, attempt: $0.attempt, credentials: credentials) })
        }), let context else { return }
        let step = current.definition
        switch step.kind {
        case .run, .http, .uses:
            updateRun(runID) { $0.current?.needsWorker = true }
            if busyWorkers < attemptCapacity { startWorkerAttempt(runID: runID) } else { readyRuns.append(runID) }
        case .set(let values):
            do {
                var output: [String: JSONValue] = [:]
                for (key, value) in values { output[key] = try Self.evaluateTemplates(in: value, context: context, parse: template) }
                recordInline(runID, status: "succeeded", output: .object(output), error: nil)
            } catch {
                recordInline(runID, status: "failed", output: .null, error: "set: \(error.message)")
            }
        case .fail(let message):
            let text = (try? template(message).evaluateToString(in: context)) ?? message
            recordInline(runID, status: "failed", output: .null, error: text)
        case .foreach(let foreach):
            do {
                let value = try template(foreach.items).evaluate(in: context)
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
                enterForeachItems(runID, step: step, loop: foreach, items: items)
            } catch {
                recordInline(runID, status: "failed", output: .null, error: "foreach: \(error.message)")
            }
        case .sleep(let sleep):
            startSleep(runID, sleep: sleep, context: context)
        case .approval(let approval):
            startApproval(runID, approval: approval, context: context)
        case .trigger(let trigger):
            startTriggerStep(runID, trigger: trigger, context: context)
        }
    }

    /// Journals an in-process attempt (started and ended at once) and ends the step.
    func recordInline(_ runID: Int64, status: String, output: JSONValue, error: String?) {
        guard case let (current?, workflow)? = readRun(runID, { ($0.current, $0.definition.name) }) else { return }
        let now = WallClock.nowMicroseconds()
        journal.submit([
            .attemptStarted(runID: runID, stepIndex: current.sequence, stepID: current.definition.id, attempt: current.attempt,
                            at: now, kind: current.definition.kind.name, input: current.input, wakeAt: nil),
            .attemptFinished(Self.attemptEnd(runID, current, status: status, output: output, error: error)),
        ])
        announce(runID: runID, workflow: workflow, current, status: status, exitCode: nil, durationMilliseconds: 0, error: error,
                 output: output, inProcess: true)
        stepEnded(runID, status: status, output: output, exitCode: nil, error: error)
    }

    static func attemptEnd(_ runID: Int64, _ current: CurrentStep, status: String, output: JSONValue, error: String?) -> AttemptEnd {
        var end = AttemptEnd(runID: runID, stepIndex: current.sequence, attempt: current.attempt, status: status,
                             endedAt: WallClock.nowMicroseconds(), exitCode: nil, signal: nil, standardOutput: "", standardError: "",
                             standardOutputBytes: 0, standardErrorBytes: 0, error: error)
        end.output = output
        return end
    }

    /// Log line and live event for an ended attempt. `inProcess` attempts (set, fail,
    /// foreach, ... decided on the loop) that succeed are logged at debug level: the
    /// journal has them, and a line each would cost more than the step itself.
    func announce(_ run: ActiveRun, _ current: CurrentStep, status: String, exitCode: Int32?, durationMilliseconds: Int64,
                  error: String?, output: JSONValue, standardOutput: String = "", standardError: String = "", retryReason: String? = nil,
                  inProcess: Bool = false) {
        announce(runID: run.id, workflow: run.definition.name, current, status: status, exitCode: exitCode,
                 durationMilliseconds: durationMilliseconds, error: error, output: output, standardOutput: standardOutput,
                 standardError: standardError, retryReason: retryReason, inProcess: inProcess)
    }

    func announce(runID: Int64, workflow: String, _ current: CurrentStep, status: String, exitCode: Int32?, durationMilliseconds: Int64,
                  error: String?, output: JSONValue, standardOutput: String = "", standardError: String = "", retryReason: String? = nil,
                  inProcess: Bool = false) {
        let error = error.map(credentials.redact), output = credentials.redact(output)
        let standardOutput = credentials.redact(standardOutput), standardError = credentials.redact(standardError)
        // An attempt that did not succeed is a warning; the run's failure is the error.
        let succeeded = status == "succeeded" || status == "skipped"
        let level: LogLevel = succeeded ? (inProcess ? .debug : .info) : .warning
        if level >= logger.minimumLevel {
            logger.log(level, "run \(runID) step \(current.definition.id) attempt \(current.attempt) \(status)"
                       + (error.map { ": \($0)" } ?? "") + (retryReason.map { "; \($0)" } ?? ""),
                       id: .stepAttemptFinished,
                       fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": workflow, "FLOWD_STEP": current.definition.id,
                                "FLOWD_ATTEMPT": "\(current.attempt)", "FLOWD_STATUS": status,
                                "FLOWD_DURATION_MS": "\(durationMilliseconds)"])
        }
        events.publish(["kind": "attempt_finished", "step": .string(current.definition.id), "attempt": .int(Int64(current.attempt)),
                        "status": .string(status), "exit_code": exitCode.map { .int(Int64($0)) } ?? .null,
                        "duration_ms": .int(durationMilliseconds), "stdout": .string(standardOutput), "stderr": .string(standardError),
                        "error": error.map(JSONValue.string) ?? .null, "output": output,
                        "retry": retryReason.map(JSONValue.string) ?? .null],
                       runID: runID, workflow: workflow)
    }

    /// Journals the attempt's end and decides: retry after a backoff, or end the step.
    /// `retryAfter` (a server's Retry-After) replaces the policy's backoff when a retry is allowed.
    func finishAttempt(_ runID: Int64, end: AttemptEnd, retryCode: Int?, durationMilliseconds: Int64, retryAfter: Duration? = nil) {
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
                if let retryAfter { wait = retryAfter }
                delay = wait
                end.retryReason = "attempt \(current.attempt + 1) of \(limit) in \(DurationText.format(wait))"
                    + (retryAfter != nil ? " (the server's Retry-After)" : "")
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
            if let owner = run.branchOf { settleParallelPause(owner) }
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
    /// `parse` turns a text into its template (the engine passes its cache).
    static func evaluateTemplates(
        in value: JSONValue, context: ExpressionContext,
        parse: (String) throws(ExpressionError) -> Template = { text throws(ExpressionError) in try Template.parse(text) }
    ) throws(ExpressionError) -> JSONValue {
        switch value {
        case .string(let text): return try parse(text).evaluate(in: context)
        case .array(let items):
            var result: [JSONValue] = []
            for item in items { result.append(try evaluateTemplates(in: item, context: context, parse: parse)) }
            return .array(result)
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, item) in members { result[key] = try evaluateTemplates(in: item, context: context, parse: parse) }
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
