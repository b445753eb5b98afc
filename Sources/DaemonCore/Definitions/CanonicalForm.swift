// CanonicalForm.swift: the canonical JSON of a workflow and its version hash.
//
// The canonical form is the whole model as JSON with every default filled in and keys
// sorted on output, so key order, comments, quoting, flow or block style, anchors and
// merge keys do not change it, and any changed value does. The version is the SHA-256
// of its serialized text. The source path and positions are not part of it. Nothing
// here fails.

extension WorkflowDefinition {
    /// The definition as canonical JSON (sorted keys, defaults filled in).
    public var canonicalJSON: JSONValue {
        var triggers: [String: JSONValue] = [
            "manual": .bool(triggers.manual),
            "spool": triggers.spool.map { ["format": .string($0.format.rawValue)] } ?? .null,
            "schedule": .array(triggers.schedules.map { ["cron": .string($0.schedule.canonicalText), "catch_up": .bool($0.catchUp)] }),
            "workflow": .null,
        ]
        if let workflow = self.triggers.workflow {
            triggers["workflow"] = ["name": .string(workflow.name),
                                    "status": .array(workflow.statuses.map { .string($0.rawValue) })]
        }
        return .object([
            "name": .string(name),
            "description": description.map(JSONValue.string) ?? .null,
            "on": .object(triggers),
            "concurrency": .int(Int64(concurrency)),
            "rate_limit": rateLimit.map { .string($0.text) } ?? .null,
            "timeout_ms": Self.milliseconds(timeout),
            "owners": .array(owners.map(JSONValue.string)),
            "env": .object(environment.mapValues(JSONValue.string)),
            "vars": .object(vars),
            "retry": retry?.canonicalJSON ?? .null,
            "steps": .array(steps.map(\.canonicalJSON)),
            "on_failure": .array(onFailure.map(\.canonicalJSON)),
            "on_success": .array(onSuccess.map(\.canonicalJSON)),
            "on_cancel": .array(onCancel.map(\.canonicalJSON)),
        ])
    }

    /// The canonical text that the version hash is computed over.
    public var canonicalText: String { canonicalJSON.serialized() }

    /// SHA-256 of the canonical text, in hex, computed now (the `version` property
    /// holds it once the loader has stamped the definition).
    public var computedVersion: String { SHA256.hexDigest(Array(canonicalText.utf8)) }

    /// Stores `computedVersion` in `version`. The loader does it last; code that edits
    /// a loaded definition must call it again.
    public mutating func stampVersion() { version = computedVersion }

    static func milliseconds(_ duration: Duration?) -> JSONValue {
        duration.map { .int($0.milliseconds) } ?? .null
    }
}

extension RetryPolicy {
    var canonicalJSON: JSONValue {
        [
            "max_attempts": .int(Int64(maxAttempts)),
            "initial_ms": .int(initialInterval.milliseconds),
            "backoff": .double(backoffCoefficient),
            "max_interval_ms": .int(maximumInterval.milliseconds),
            "jitter": .bool(jitter),
            "non_retryable": .array(nonRetryable.sorted().map { .int(Int64($0)) }),
        ]
    }
}

extension StepDefinition {
    var canonicalJSON: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id),
            "name": name.map(JSONValue.string) ?? .null,
            "kind": .string(kind.name),
            "env": .object(environment.mapValues(JSONValue.string)),
            "cwd": workingDirectory.map(JSONValue.string) ?? .null,
            "timeout_ms": WorkflowDefinition.milliseconds(timeout),
            "if": condition.map(JSONValue.string) ?? .null,
            "retry": retry?.canonicalJSON ?? .null,
            "idempotent": .bool(idempotent),
            "continue_on_error": .bool(continueOnError),
            "fallback": .array(fallback.map(\.canonicalJSON)),
        ]
        object[kind.name] = kind.canonicalJSON
        return .object(object)
    }
}

extension StepKind {
    var canonicalJSON: JSONValue {
        switch self {
        case .run(let run):
            var object: [String: JSONValue] = [
                "user": run.user.map(JSONValue.string) ?? .null,
                "group": run.group.map(JSONValue.string) ?? .null,
                "stdin": run.standardInput.map(JSONValue.string) ?? .null,
                "outputs": .string(run.outputs.rawValue),
            ]
            switch run.action {
            case .run(let command, let shell):
                object["command"] = .string(command)
                object["shell"] = .string(shell)
            case .exec(let arguments):
                object["exec"] = .array(arguments.map(JSONValue.string))
            }
            return .object(object)
        case .http(let http):
            return [
                "method": .string(http.method),
                "url": .string(http.url),
                "headers": .object(http.headers.mapValues(JSONValue.string)),
                "query": .object(http.query.mapValues(JSONValue.string)),
                "body": http.body ?? .null,
                "body_file": http.bodyFile.map(JSONValue.string) ?? .null,
                "timeout_ms": WorkflowDefinition.milliseconds(http.timeout),
                "expect": .array(http.expect.sorted().map { .int(Int64($0)) }),
            ]
        case .set(let values):
            return .object(values)
        case .foreach(let loop):
            return [
                "items": .string(loop.items),
                "do": .array(loop.steps.map(\.canonicalJSON)),
                "parallel": .int(Int64(loop.parallel)),
                "max_items": .int(Int64(loop.maxItems)),
            ]
        case .sleep(.duration(let duration)):
            return ["duration_ms": .int(duration.milliseconds)]
        case .sleep(.until(let text)):
            return ["until": .string(text)]
        case .approval(let approval):
            return [
                "prompt": .string(approval.prompt),
                "fields": .array(approval.fields.map { field in
                    [
                        "name": .string(field.name),
                        "type": .string(field.type.rawValue),
                        "required": .bool(field.required),
                        "enum": field.allowedValues.map(JSONValue.array) ?? .null,
                        "pattern": field.pattern.map(JSONValue.string) ?? .null,
                    ]
                }),
                "timeout_ms": WorkflowDefinition.milliseconds(approval.timeout),
                "on_timeout": .string(approval.onTimeout.rawValue),
            ]
        case .trigger(let trigger):
            return ["workflow": .string(trigger.workflow), "payload": trigger.payload, "wait": .bool(trigger.wait)]
        case .uses(let uses):
            return ["connector": .string(uses.connector), "action": .string(uses.action), "with": .object(uses.inputs)]
        case .fail(let message):
            return ["message": .string(message)]
        }
    }
}
