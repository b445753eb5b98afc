// EngineConnectors.swift: `uses:` steps, a connector action run on a worker.
//
// On the loop: the step's `with:` values are evaluated in the run's context, the
// manifest is looked up in the catalog in force (the workflow loader checked it existed
// when the definition loaded; a reload may have removed it since), and
// ConnectorInvocation builds the request or command with `inputs` and `credentials`. The
// worker performs it (HTTPClient or ProcessRunner). Back on the loop the result is
// judged against the action's `expect`, a 429 with Retry-After retries after that wait
// (capped at 1 h) when the step's retry policy allows another attempt, and the output
// is mapped per the manifest. Secrets never reach the journal: the attempt's input
// keeps header names only, and every write is redacted by the journal.

import Foundation

/// What a worker brings back from a connector action.
struct ConnectorAttemptResult: Sendable {
    enum Outcome: Sendable {
        case http(Result<HTTPResponse, HTTPClientError>)
        case process(Result<ProcessOutcome, SystemError>)
    }

    var invocation: ConnectorInvocation
    var outcome: Outcome
}

extension Engine {
    /// Prepares the action of a `uses:` step; the job runs it on a worker.
    func makeConnectorJob(_ uses: UsesStep, step: StepDefinition, context: ExpressionContext,
                          cancellation: ProcessCancellation) throws -> (@Sendable () -> WorkerResult, JSONValue) {
        let catalog = definitions.connectors
        guard let manifest = catalog.manifests[uses.connector] else {
            throw StepPreparationError(message: "unknown connector \(quote(uses.connector)) (no manifest in "
                                       + catalog.directories.joined(separator: " or ") + ")")
        }
        guard let action = manifest.actions[uses.action] else {
            throw StepPreparationError(message: "connector \(uses.connector) has no action \(quote(uses.action))")
        }
        var given: [String: JSONValue] = [:]
        for (key, value) in uses.inputs {
            do {
                given[key] = try Self.evaluateTemplates(in: value, context: context, parse: template)
            } catch {
                throw StepPreparationError(message: "with.\(key): \(error.message)")
            }
        }
        var secrets: [String: String] = [:]
        if case .object(let members) = credentials.expressionValue {
            for (name, value) in members { secrets[name] = value.stringValue }
        }
        let store = credentials
        let invocation = try ConnectorInvocation.prepare(
            manifest: manifest, action: action, with: given, credentials: secrets, credentialProblem: { store.problem($0) },
            timeout: step.timeout ?? .seconds(60), maxResponseBytes: max(configuration.outputLimit, 1 << 20))
        let job: @Sendable () -> WorkerResult
        switch invocation.work {
        case .request(let spec):
            job = {
                .connector(ConnectorAttemptResult(invocation: invocation, outcome: .http(Result { () throws(HTTPClientError) -> HTTPResponse in
                    try HTTPClient.perform(spec, cancellation: cancellation)
                })))
            }
        case .command(let command):
            var prepared = command
            prepared.workingDirectory = workDirectory
            prepared.outputLimit = configuration.outputLimit
            let spec = prepared
            job = {
                .connector(ConnectorAttemptResult(invocation: invocation, outcome: .process(Result { () throws(SystemError) -> ProcessOutcome in
                    try ProcessRunner.run(spec, cancellation: cancellation)
                })))
            }
        }
        return (job, invocation.journalInput)
    }

    /// Judges a connector attempt and hands it to finishAttempt.
    func judgeConnector(_ runID: Int64, failureError: String?, current: CurrentStep, _ result: ConnectorAttemptResult) {
        var end = Self.attemptEnd(runID, current, status: "failed", output: .null, error: nil)
        var durationMilliseconds: Int64 = 0
        var retryCode: Int?
        var retryAfter: Duration?
        let invocation = result.invocation
        let label = "\(invocation.connector)/\(invocation.action.name)"
        func mapOutput(_ response: JSONValue) {
            do {
                end.output = try invocation.output(response: response)
                end.status = "succeeded"
            } catch {
                end.error = error.message
            }
        }
        switch result.outcome {
        case .http(.success(let response)):
            durationMilliseconds = response.duration.milliseconds
            end.standardOutput = String(decoding: response.body.prefix(configuration.outputLimit), as: UTF8.self)
            end.standardOutputBytes = response.body.count
            end.exitCode = Int32(response.status)
            if invocation.expects(response.status) {
                do {
                    if let message = try invocation.failure(response: response.stepOutput) {
                        end.error = "\(label): \(message)"
                    } else {
                        mapOutput(response.stepOutput)
                    }
                } catch {
                    end.error = error.message
                }
            } else {
                let excerpt = ConnectorInvocation.excerpt(response.body)
                end.error = "\(label): HTTP \(response.status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
                retryCode = response.status
                if response.status == 429 || response.status == 503 {
                    retryAfter = ConnectorInvocation.retryAfter(response.headers["retry-after"])
                }
            }
        case .http(.failure(let error)):
            switch error {
            case .cancelled:
                end.status = current.abandoned ? "cancelled" : "interrupted"
                end.error = current.abandoned ? (failureError ?? "cancelled") : "stopped by the daemon's shutdown"
            case .timedOut(let limit):
                end.status = "timed_out"
                end.error = "\(label): no answer within \(DurationText.format(limit))"
            default:
                end.error = "\(label): \(error)"
            }
        case .process(.success(let outcome)):
            end.standardOutput = String(decoding: outcome.standardOutput, as: UTF8.self)
            end.standardError = String(decoding: outcome.standardError, as: UTF8.self)
            end.standardOutputBytes = outcome.standardOutputBytes
            end.standardErrorBytes = outcome.standardErrorBytes
            durationMilliseconds = (outcome.endedAt - outcome.startedAt).milliseconds
            if case .exited(let code) = outcome.termination { end.exitCode = code }
            if case .signaled(let signal) = outcome.termination { end.signal = signal }
            if outcome.cancelled {
                end.status = current.abandoned ? "cancelled" : "interrupted"
                end.error = current.abandoned ? (failureError ?? "cancelled") : "stopped by the daemon's shutdown"
            } else if outcome.timedOut {
                end.status = "timed_out"
                end.error = "\(label): timed out"
            } else if let code = end.exitCode, invocation.expects(Int(code)) {
                mapOutput(["exit_code": .int(Int64(code)), "stdout": .string(end.standardOutput), "stderr": .string(end.standardError)])
            } else if let code = end.exitCode {
                let excerpt = ConnectorInvocation.excerpt(Array(end.standardError.utf8))
                end.error = "\(label): \(invocation.commandName) exited with status \(code)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
                retryCode = Int(code)
            } else {
                end.error = "\(label): \(invocation.commandName) killed by signal \(end.signal ?? 0)"
            }
        case .process(.failure(let error)):
            end.error = "\(label): could not start \(invocation.commandName): \(error)"
        }
        finishAttempt(runID, end: end, retryCode: retryCode, durationMilliseconds: durationMilliseconds, retryAfter: retryAfter)
    }
}

extension ConnectorInvocation {
    /// The program of a command action, for messages.
    var commandName: String {
        if case .command(let spec) = work { return spec.executable }
        return "request"
    }
}

extension Engine {
    /// The connector list for `flowadm connectors`: actions, inputs, and each credential
    /// with whether it is loaded (names only).
    func publishConnectors() {
        let catalog = definitions.connectors
        let loaded = Set(credentials.names.loaded)
        let connectors = catalog.manifests.values.sorted { $0.name < $1.name }.map { manifest -> JSONValue in
            let actions = manifest.actions.values.sorted { $0.name < $1.name }.map { action -> JSONValue in
                var names = action.credentials
                if case .request(let request) = action.operation, let sign = request.sign, !names.contains(sign.credential) {
                    names.append(sign.credential)
                }
                let credentials = names.map { name -> JSONValue in
                    ["name": .string(name), "required": .bool(action.credentials.contains(name)), "present": .bool(loaded.contains(name)),
                     "problem": self.credentials.problem(name).map(JSONValue.string) ?? .null]
                }
                let kind: String
                switch action.operation {
                case .request(let request): kind = request.method
                case .command(let command): kind = command.argv[0]
                }
                return ["name": .string(action.name), "description": action.description.map(JSONValue.string) ?? .null,
                        "kind": .string(kind),
                        "inputs": .array(action.inputs.map { input in
                            ["name": .string(input.name), "type": .string(input.type.rawValue), "required": .bool(input.required),
                             "default": input.defaultValue ?? .null, "description": input.description.map(JSONValue.string) ?? .null]
                        }),
                        "credentials": .array(credentials)]
            }
            return ["name": .string(manifest.name), "description": manifest.description.map(JSONValue.string) ?? .null,
                    "path": .string(manifest.sourcePath), "base_url": manifest.baseURL.map(JSONValue.string) ?? .null,
                    "actions": .array(actions)]
        }
        let errors = catalog.problems.map { problem -> JSONValue in
            ["path": .string(problem.path), "errors": .array(problem.errors.map { .string($0.description) })]
        }
        for problem in catalog.problems {
            for error in problem.errors { logger.log(.error, "invalid connector manifest: \(error)", id: .definitionError) }
        }
        statusBoard.update {
            $0.connectors = connectors
            $0.connectorErrors = errors
        }
    }
}
