// WorkflowLoader.swift: one workflow YAML file → a WorkflowDefinition, or every error.
//
// The loader checks names, keys, types and step ids, and collects all problems of the
// file (file:line:column: what was expected). It never throws for one bad field; it
// throws DefinitionErrors once, at the end, when anything was wrong.

/// Loads and validates workflow definition files.
public enum WorkflowLoader {
    static let workflowKeys = ["name", "description", "on", "concurrency", "env", "steps"]
    static let triggerKeys = ["spool", "manual"]
    static let stepKeys = ["id", "name", "run", "shell", "exec", "env", "cwd", "timeout"]
    static let shells = ["sh": "/bin/sh", "bash": "/bin/bash", "python3": "/usr/bin/python3"]

    /// True when `name` is a valid workflow name: `[a-z0-9][a-z0-9_-]{0,63}`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || (!first && (byte == 0x5f || byte == 0x2d))
        }
        return allowed(bytes[0], first: true) && bytes.dropFirst().allSatisfy { allowed($0, first: false) }
    }

    /// Loads the workflow file at `path`; its stem is the name unless `name:` says otherwise.
    public static func load(path: String) throws(DefinitionErrors) -> WorkflowDefinition {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parseFile(atPath: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        guard let root else {
            throw DefinitionErrors([DefinitionError(SourceLocation(file: path, line: 1, column: 1), "the file holds no workflow (it is empty)")])
        }
        return try load(root: root, path: path)
    }

    /// Builds the workflow from an already parsed document.
    public static func load(root: YAMLNode, path: String) throws(DefinitionErrors) -> WorkflowDefinition {
        let reader = NodeReader()
        let definition = read(root, path: path, reader: reader)
        if let definition, reader.errors.isEmpty { return definition }
        throw DefinitionErrors(reader.errors.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) })
    }

    static func fileStem(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".yaml", ".yml"] where base.hasSuffix(suffix) { return String(base.dropLast(suffix.count)) }
        return base
    }

    private static func read(_ root: YAMLNode, path: String, reader: NodeReader) -> WorkflowDefinition? {
        guard let members = reader.mapping(root, what: "a workflow", allowed: workflowKeys) else { return nil }
        var name = fileStem(path)
        if let node = members["name"], let text = reader.string(node, what: "name") { name = text }
        if !isValidName(name) {
            reader.report(members["name"]?.location ?? root.location,
                          "workflow name \"\(name)\" is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
        }
        var definition = WorkflowDefinition(name: name, sourcePath: path, steps: [])
        if let node = members["description"] { definition.description = reader.string(node, what: "description") }
        if let node = members["concurrency"] { definition.concurrency = reader.integer(node, what: "concurrency", range: 1...10_000) ?? 1 }
        if let node = members["env"] { definition.environment = reader.stringMap(node, what: "env") ?? [:] }
        if let node = members["on"] { readTriggers(node, into: &definition, reader: reader) }
        guard let stepsNode = members["steps"] else {
            reader.report(root, "a workflow needs \"steps\": a list of at least one step")
            return nil
        }
        guard let items = stepsNode.items, !items.isEmpty else {
            reader.report(stepsNode, "steps must be a non-empty list, found \(stepsNode.kindName)")
            return nil
        }
        var seen: [String: SourceLocation] = [:]
        for item in items {
            // Duplicates are reported even when a step has other errors.
            if let idNode = item["id"], let id = idNode.scalarText {
                if let first = seen[id] {
                    reader.report(idNode, "duplicate step id \"\(id)\" (first at line \(first.line))")
                } else {
                    seen[id] = item.location
                }
            }
            if let step = readStep(item, reader: reader) { definition.steps.append(step) }
        }
        return definition
    }

    private static func readTriggers(_ node: YAMLNode, into definition: inout WorkflowDefinition, reader: NodeReader) {
        guard let triggers = reader.mapping(node, what: "on", allowed: triggerKeys) else { return }
        if let spool = triggers["spool"] {
            definition.spoolFormat = .json
            if spool.resolvedScalar == .bool(true) || spool.resolvedScalar == .null {
                // `spool: true` or a bare `spool:` accept the default format.
            } else if let options = reader.mapping(spool, what: "on.spool", allowed: ["format"]) {
                if let formatNode = options["format"], let text = reader.string(formatNode, what: "on.spool.format") {
                    if let format = PayloadFormat(rawValue: text) {
                        definition.spoolFormat = format
                    } else {
                        reader.report(formatNode, "on.spool.format must be one of json, yaml, raw, lines; found \"\(text)\"")
                    }
                }
            }
        }
        if let manual = triggers["manual"] { definition.manualTrigger = reader.boolean(manual, what: "on.manual") ?? true }
    }

    private static func readStep(_ node: YAMLNode, reader: NodeReader) -> StepDefinition? {
        guard let members = reader.mapping(node, what: "a step", allowed: stepKeys) else { return nil }
        guard let idNode = members["id"] else {
            reader.report(node, "a step needs an \"id\"")
            return nil
        }
        guard let id = reader.string(idNode, what: "step id") else { return nil }
        if !isValidName(id) {
            reader.report(idNode, "step id \"\(id)\" is invalid; ids match [a-z0-9][a-z0-9_-]{0,63}")
        }
        let action: StepAction
        switch (members["run"], members["exec"]) {
        case (let run?, nil):
            guard let command = reader.string(run, what: "run") else { return nil }
            var shell = "/bin/sh"
            if let shellNode = members["shell"], let text = reader.string(shellNode, what: "shell") {
                if let known = shells[text] {
                    shell = known
                } else if text.hasPrefix("/") {
                    shell = text
                } else {
                    reader.report(shellNode, "shell must be sh, bash, python3 or an absolute path; found \"\(text)\"")
                }
            }
            action = .run(command: command, shell: shell)
        case (nil, let exec?):
            guard let arguments = reader.stringList(exec, what: "exec") else { return nil }
            guard let first = arguments.first, !first.isEmpty else {
                reader.report(exec, "exec needs at least the program to run")
                return nil
            }
            if let shellNode = members["shell"] { reader.report(shellNode, "shell applies to run:, not exec:") }
            action = .exec(arguments: arguments)
        case (.some, .some):
            reader.report(node, "step \"\(id)\" has both run and exec; a step does exactly one thing")
            return nil
        case (nil, nil):
            reader.report(node, "step \"\(id)\" needs an action: run or exec")
            return nil
        }
        var step = StepDefinition(id: id, kind: .run(RunStep(action: action)), location: node.location)
        step.name = members["name"].flatMap { reader.string($0, what: "name") }
        step.environment = members["env"].flatMap { reader.stringMap($0, what: "env") } ?? [:]
        step.workingDirectory = members["cwd"].flatMap { reader.string($0, what: "cwd") }
        step.timeout = members["timeout"].flatMap { reader.duration($0, what: "timeout") }
        return step
    }
}
