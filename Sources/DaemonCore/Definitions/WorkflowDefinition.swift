// WorkflowDefinition.swift: the typed model of one workflow file.
//
// This is what the engine runs. It is built only by WorkflowLoader, which has checked
// every field, so the engine never re-validates. The canonical form (canonicalJSON)
// is the model itself as sorted-key JSON: two files that mean the same thing (other key
// order, comments, quoting) have the same canonical text and so the same version hash.

/// How a spool file's content becomes the trigger payload.
public enum PayloadFormat: String, Sendable, CaseIterable {
    case json, yaml, raw, lines
}

/// What a step does.
public enum StepAction: Sendable, Equatable {
    /// A shell command, run as `shell -c command`.
    case run(command: String, shell: String)
    /// An argv run without a shell.
    case exec(arguments: [String])
}

/// One step of a workflow.
public struct StepDefinition: Sendable {
    public var id: String
    public var name: String?
    public var action: StepAction
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Per-attempt deadline.
    public var timeout: Duration?
    public var location: SourceLocation
}

/// One loaded, validated workflow.
public struct WorkflowDefinition: Sendable {
    public var name: String
    public var description: String?
    public var sourcePath: String
    /// The spool trigger's payload format, when the workflow accepts spool files.
    public var spoolFormat: PayloadFormat?
    public var manualTrigger: Bool
    /// Runs of this workflow at once.
    public var concurrency: Int
    public var environment: [String: String]
    public var steps: [StepDefinition]

    /// The definition as canonical JSON (sorted keys, defaults filled in).
    public var canonicalJSON: JSONValue {
        var triggers: [String: JSONValue] = ["manual": .bool(manualTrigger)]
        if let spoolFormat { triggers["spool"] = ["format": .string(spoolFormat.rawValue)] }
        return .object([
            "name": .string(name),
            "description": description.map(JSONValue.string) ?? .null,
            "on": .object(triggers),
            "concurrency": .int(Int64(concurrency)),
            "env": .object(environment.mapValues(JSONValue.string)),
            "steps": .array(steps.map(\.canonicalJSON)),
        ])
    }

    /// The canonical text that the version hash is computed over.
    public var canonicalText: String { canonicalJSON.serialized() }

    /// The version: SHA-256 of the canonical text, in hex.
    public var version: String { SHA256.hexDigest(Array(canonicalText.utf8)) }
}

extension StepDefinition {
    var canonicalJSON: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id),
            "env": .object(environment.mapValues(JSONValue.string)),
        ]
        if let name { object["name"] = .string(name) }
        if let workingDirectory { object["cwd"] = .string(workingDirectory) }
        if let timeout { object["timeout_ms"] = .int(Int64(timeout.milliseconds)) }
        switch action {
        case .run(let command, let shell):
            object["run"] = .string(command)
            object["shell"] = .string(shell)
        case .exec(let arguments):
            object["exec"] = .array(arguments.map(JSONValue.string))
        }
        return .object(object)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
