// EngineWorkers.swift: attempts that run on a worker thread: process, http and uses steps
// (connector specifics are in EngineConnectors.swift).
//
// The attempt's "started" row commits before the job is handed to the pool (SPEC 5); the
// job's result comes back on the loop, where it is judged (exit status, timeout,
// cancellation, `outputs:`; HTTP status against `expect:`) and handed to finishAttempt.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    // MARK: Process attempts on workers

    /// Hands the current step (process or http) to a worker, after its start is committed.
    func startWorkerAttempt(runID: Int64) {
        guard phase == .running else { return }
        let cancellation = ProcessCancellation()
        // The job is built from the run where it is in `runs` (a copy of the whole run
        // per attempt cost more than the rest of this function).
        guard case let (prepared, built)?? = readRun(runID, { run -> (CurrentStep, Result<WorkerJob, Error>)? in
            guard var current = run.current else { return nil }
            let job = Result { try makeWorkerJob(runID, run: run, current: &current, cancellation: cancellation) }
            return (current, job)
        }) else { return }
        var current = prepared
        let step = current.definition
        let job: WorkerJob
        switch built {
        case .success(let made):
            job = made
        case .failure(let error):
            updateRun(runID) { $0.current = current }
            return recordInline(runID, status: "failed", output: .null, error: "\(error)")
        }
        current.cancellation = cancellation
        guard let workflow = updateRun(runID, { run in
            run.current = current
            return run.definition.name
        }) else { return }
        busyWorkers += 1
        let sequence = current.sequence, attempt = current.attempt
        events.publish(["kind": "attempt_started", "step": .string(step.id), "attempt": .int(Int64(attempt))],
                       runID: runID, workflow: workflow)
        journal.submit([.attemptStarted(runID: runID, stepIndex: sequence, stepID: step.id, attempt: attempt,
                                        at: WallClock.nowMicroseconds(), kind: step.kind.name, input: current.input,
                                        wakeAt: nil)]) { [self] outcome in
            guard case .success = outcome else {
                loop.execute { [self] in
                    busyWorkers -= 1
                    logger.log(.error, "journal write failed; run \(runID) step \(step.id) not started", fields: ["FLOWD_RUN": "\(runID)"])
                    // Given up at shutdown on a full disk: the drain must not wait for it.
                    if phase == .draining { drainIfIdle() }
                }
                return
            }
            workers.submit { [self] in
                let result = job()
                loop.execute { [self] in workerAttemptFinished(runID: runID, sequence: sequence, attempt: attempt, result) }
            }
        }
    }

    typealias WorkerJob = @Sendable () -> WorkerResult

    /// The job of the current step of `runID` (its key in `runs`: an item branch's for a
    /// parallel item), its input recorded in `current`. `run` is read where it is in
    /// `runs`, so this must not touch `runs`.
    private func makeWorkerJob(_ runID: Int64, run: ActiveRun, current: inout CurrentStep,
                               cancellation: ProcessCancellation) throws -> WorkerJob {
        let step = current.definition
        let context = run.expressionContext(step: step, attempt: current.attempt, credentials: credentials.expressionValue)
        switch step.kind {
        case .run(let runStep):
            // Unguessable: a file the step creates gets the step's umask (0644 under 022),
            // and the 0711 directory only hides it while nobody knows its name.
            let token = String(UInt64.random(in: .min ... .max), radix: 16)
            let outputPath = outputDirectory + "/\(runID)-\(current.sequence)-\(current.attempt)-\(token)"
            let spec: ProcessSpec
            let outputOwner: (uid: UInt32, gid: UInt32)?
            (spec, current.input, outputOwner) = try makeProcessSpec(run: run, step: step, runStep: runStep, attempt: current.attempt,
                                                                     context: context, outputPath: outputPath)
            let recordProcess = processRecorder(runID: runID, stepIndex: current.sequence, attempt: current.attempt)
            return { [outputDirectory] in
                Self.prepareOutputFile(outputPath, directory: outputDirectory, owner: outputOwner)
                let result = Result { () throws(SystemError) -> ProcessOutcome in try ProcessRunner.run(spec, cancellation: cancellation, onSpawn: recordProcess) }
                return .process(ProcessAttemptResult(outcome: result, outputFile: Self.takeOutputFile(outputPath)))
            }
        case .http(let http):
            let spec: HTTPRequestSpec
            (spec, current.input) = try makeHTTPRequest(http, step: step, context: context)
            return { .http(Result { () throws(HTTPClientError) -> HTTPResponse in try HTTPClient.perform(spec, cancellation: cancellation) }) }
        case .uses(let uses):
            let job: WorkerJob
            (job, current.input) = try makeConnectorJob(uses, step: step, context: context, cancellation: cancellation)
            return job
        default:
            preconditionFailure("only run, http and uses steps go to workers")
        }
    }

    // MARK: $FLOWD_OUTPUT

    /// Readies the attempt's $FLOWD_OUTPUT path (unique to the attempt and unguessable; leftovers of an
    /// earlier daemon are swept at start). The step creates the file with its first write:
    /// creating and deleting an empty file for every attempt, most of which never write
    /// one, was the daemon's costliest system call (ext4 inode allocation, the directory
    /// lock; bench/FINDINGS.md). A step running as another user cannot create files in
    /// the 0711 directory, so its file is made for it: empty, 0600, its own.
    static func prepareOutputFile(_ path: String, directory: String, owner: (uid: UInt32, gid: UInt32)?) {
        // The directory exists since start; make it again only if it went away.
        if (try? FileSystem.status(directory)) == nil { try? FileSystem.makeDirectories(directory, mode: 0o711) }
        guard let owner else { return }
        try? FileSystem.removeFile(path)
        try? FileSystem.createFile(path, contents: [], mode: 0o600)
        _ = chown(path, owner.uid, owner.gid)
    }

    /// What the step wrote to $FLOWD_OUTPUT (nothing when it wrote no file), the file then
    /// removed. A symlink, a FIFO, a directory or a file over 1 MiB counts as nothing
    /// written (and is removed; a symlink itself, not what it points to).
    static func takeOutputFile(_ path: String) -> [UInt8] {
        do {
            let written = try FileSystem.readRegularFile(path, maxBytes: 1 << 20)
            try? FileSystem.removeFile(path)
            return written
        } catch {
            // Whatever the step left there instead (a directory, a FIFO) goes too.
            if error.errno != ENOENT { try? FileManager.default.removeItem(atPath: path) }
            return []
        }
    }

    /// The request of an http step, with its templates evaluated.
    func makeHTTPRequest(_ http: HTTPStep, step: StepDefinition, context: ExpressionContext) throws -> (HTTPRequestSpec, JSONValue) {
        var spec = HTTPRequestSpec(method: http.method, url: try template(http.url).evaluateToString(in: context))
        for (name, value) in http.headers { spec.headers[name] = try template(value).evaluateToString(in: context) }
        for (name, value) in http.query { spec.query[name] = try template(value).evaluateToString(in: context) }
        if let body = http.body {
            spec.body = Array(try Self.evaluateTemplates(in: body, context: context, parse: template).serialized().utf8)
            if !spec.headers.keys.contains(where: { $0.lowercased() == "content-type" }) { spec.headers["Content-Type"] = "application/json" }
        } else if let bodyFile = http.bodyFile {
            let path = try template(bodyFile).evaluateToString(in: context)
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
                         outputPath: String) throws -> (ProcessSpec, JSONValue, (uid: UInt32, gid: UInt32)?) {
        var environment = baseEnvironment
        for (key, value) in run.definition.environment.merging(step.environment, uniquingKeysWith: { $1 }) {
            environment[key] = try template(value).evaluateToString(in: context)
        }
        environment["FLOWD_RUN"] = String(run.id)
        environment["FLOWD_WORKFLOW"] = run.definition.name
        environment["FLOWD_STEP"] = step.id
        environment["FLOWD_ATTEMPT"] = String(attempt)
        environment["FLOWD_OUTPUT"] = outputPath
        environment["FLOWD_TRIGGER_FILE"] = run.trigger.file
        environment["FLOWD_TRIGGER_NAME"] = run.trigger.name
        var spec: ProcessSpec
        var input: [String: JSONValue] = [:]
        var outputOwner: (uid: UInt32, gid: UInt32)?
        switch runStep.action {
        case .run(let command, let shell):
            let text = try template(command).evaluateToString(in: context)
            spec = ProcessSpec(executable: shell, arguments: ["-c", text], environment: environment)
            input["run"] = .string(text)
            input["shell"] = .string(shell)
        case .exec(let arguments):
            let argv = try arguments.map { try template($0).evaluateToString(in: context) }
            let program = Self.resolveProgram(argv[0], searchPath: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            spec = ProcessSpec(executable: program, arguments: Array(argv.dropFirst()), environment: environment)
            input["exec"] = .array(argv.map(JSONValue.string))
        }
        if let directory = step.workingDirectory {
            spec.workingDirectory = try template(directory).evaluateToString(in: context)
            input["cwd"] = spec.workingDirectory.map(JSONValue.string) ?? .null
        } else {
            spec.workingDirectory = workDirectory  // never the daemon's own working directory
        }
        if let standardInput = runStep.standardInput {
            spec.standardInput = Array(try template(standardInput).evaluateToString(in: context).utf8)
        }
        spec.timeout = step.timeout
        spec.outputLimit = configuration.outputLimit
        if runStep.user != nil || runStep.group != nil {
            let identity = try RunAs.resolve(user: runStep.user, group: runStep.group)
            identity.wrap(&spec)
            input["user"] = runStep.user.map(JSONValue.string) ?? .null
            input["group"] = runStep.group.map(JSONValue.string) ?? .null
            // $FLOWD_OUTPUT must be writable by the step's user.
            outputOwner = (identity.uid ?? 0, identity.gid)
        }
        return (spec, .object(input), outputOwner)
    }

    struct StepPreparationError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A worker's attempt came back: judge it, then retry, end the step or stop.
    func workerAttemptFinished(runID: Int64, sequence: Int, attempt: Int, _ result: WorkerResult) {
        busyWorkers -= 1
        defer {
            dispatch()
            if phase == .draining { drainIfIdle() }
        }
        // Changed in place: a copy of the whole run per attempt cost more than judging it.
        guard case let (current, failureError)?? = updateRun(runID, { run -> (CurrentStep, String?)? in
            guard var current = run.current, current.sequence == sequence, current.attempt == attempt else { return nil }
            current.cancellation = nil
            run.current = current
            return (current, run.failureError)
        }) else { return }
        switch (result, current.definition.kind) {
        case (.process(let processResult), .run(let runStep)):
            judgeProcess(runID, failureError: failureError, current: current, runStep: runStep, processResult)
        case (.http(let response), .http(let http)):
            judgeHTTP(runID, failureError: failureError, current: current, http: http, response)
        case (.connector(let connectorResult), .uses):
            judgeConnector(runID, failureError: failureError, current: current, connectorResult)
        default:
            preconditionFailure("a worker result of the wrong kind")
        }
    }

    func judgeHTTP(_ runID: Int64, failureError: String?, current: CurrentStep, http: HTTPStep,
                           _ result: Result<HTTPResponse, HTTPClientError>) {
        var end = Self.attemptEnd(runID, current, status: "failed", output: .null, error: nil)
        var durationMilliseconds: Int64 = 0
        var retryCode: Int?
        var retryAfter: Duration?
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
                if response.status == 429 || response.status == 503 {
                    retryAfter = ConnectorInvocation.retryAfter(response.headers["retry-after"])
                }
            }
        case .failure(.cancelled):
            end.status = current.abandoned ? "cancelled" : "interrupted"
            end.error = current.abandoned ? (failureError ?? "cancelled") : "stopped by the daemon's shutdown"
        case .failure(.timedOut(let limit)):
            end.status = "timed_out"
            end.error = "no answer within \(DurationText.format(limit))"
        case .failure(let error):
            end.error = "\(error)"
        }
        finishAttempt(runID, end: end, retryCode: retryCode, durationMilliseconds: durationMilliseconds, retryAfter: retryAfter)
    }

    func judgeProcess(_ runID: Int64, failureError: String?, current: CurrentStep, runStep: RunStep, _ result: ProcessAttemptResult) {
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
                end.error = current.abandoned ? (failureError ?? "cancelled")
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
}
