// WorkflowLoader.swift: one workflow YAML file → a WorkflowDefinition, or every error.
//
// The loader checks names, keys, types, ranges, step ids, expressions and cron texts,
// and collects all problems of the file as `file:line:column: message`, sorted by
// position. It never stops at one bad field; it throws DefinitionErrors once, at the
// end, when anything was wrong. The parts: WorkflowLoader+Triggers (`on:`),
// +Policies (retry, rate_limit, owners, env, vars), +Steps (common step keys, ids),
// +StepKinds (each kind), +Expressions (templates, references and schedules, checked
// after the whole tree is read). Top-level keys starting with `x-` are ignored (and
// are not part of the version): they hold anchors for `<<` merges, as in compose files.

/// Loads and validates workflow definition files.
public enum WorkflowLoader {
    static let workflowKeys = [
        "name", "description", "on", "concurrency", "rate_limit", "timeout", "owners", "env", "vars",
        "retry", "steps", "on_failure", "on_success", "on_cancel",
    ]
    static let handlerKeys = ["on_failure", "on_success", "on_cancel"]

    /// True when `name` is a valid workflow name or step id: `[a-z0-9][a-z0-9_-]{0,63}`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || (!first && (byte == 0x5f || byte == 0x2d))
        }
        return allowed(bytes[0], first: true) && bytes.dropFirst().allSatisfy { allowed($0, first: false) }
    }

    /// Loads the workflow file at `path`; its stem is the name unless `name:` says otherwise.
    /// With `connectors`, each `uses:` step is checked against the manifests.
    public static func load(path: String, connectors: ConnectorCatalog? = nil) throws(DefinitionErrors) -> WorkflowDefinition {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parseFile(atPath: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        return try load(root: root, path: path, connectors: connectors)
    }

    /// `load(path:connectors:)`, also giving the file's bytes as they were parsed.
    static func loadKeepingSource(path: String, connectors: ConnectorCatalog? = nil)
        throws(DefinitionErrors) -> (definition: WorkflowDefinition, source: [UInt8])
    {
        let parsed: (root: YAMLNode?, bytes: [UInt8])
        do {
            parsed = try YAMLParser.parseFileKeepingBytes(atPath: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        return (try load(root: parsed.root, path: path, connectors: connectors), parsed.bytes)
    }

    /// Loads a workflow from YAML text; `path` names it in positions and gives the
    /// default name.
    public static func load(text: String, path: String, connectors: ConnectorCatalog? = nil) throws(DefinitionErrors) -> WorkflowDefinition {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(text, file: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        return try load(root: root, path: path, connectors: connectors)
    }

    /// Builds the workflow from an already parsed document (nil: the file was empty).
    public static func load(root: YAMLNode?, path: String, connectors: ConnectorCatalog? = nil) throws(DefinitionErrors) -> WorkflowDefinition {
        guard let root else {
            throw DefinitionErrors([DefinitionError(SourceLocation(file: path, line: 1, column: 1), "the file holds no workflow (it is empty)")])
        }
        let context = WorkflowReadContext()
        context.connectors = connectors
        let definition = read(root, path: path, context: context)
        if let definition { checkExpressions(of: definition, context: context) }
        let errors = context.reader.errors.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset)
                < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
        if var definition, errors.isEmpty {
            definition.stampVersion()
            return definition
        }
        throw DefinitionErrors(errors)
    }

    static func fileStem(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".yaml", ".yml"] where base.hasSuffix(suffix) { return String(base.dropLast(suffix.count)) }
        return base
    }

    private static func read(_ root: YAMLNode, path: String, context: WorkflowReadContext) -> WorkflowDefinition? {
        let reader = context.reader
        guard let members = reader.mapping(root, what: "a workflow", allowed: workflowKeys, ignoredPrefix: "x-") else { return nil }
        var name = fileStem(path)
        if let node = members["name"], let text = reader.string(node, what: "name") { name = text }
        if !isValidName(name) {
            reader.report(members["name"]?.location ?? root.location,
                          "workflow name \(quote(name)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
        }
        var definition = WorkflowDefinition(name: name, sourcePath: path, steps: [])
        if let node = members["description"] { definition.description = reader.string(node, what: "description") }
        if let node = members["concurrency"] { definition.concurrency = reader.integer(node, what: "concurrency", range: 1...10_000) ?? 1 }
        if let node = members["rate_limit"] { definition.rateLimit = readRateLimit(node, reader: reader) }
        if let node = members["timeout"] { definition.timeout = reader.positiveDuration(node, what: "timeout") }
        if let node = members["owners"] { definition.owners = readOwners(node, reader: reader) }
        if let node = members["env"] { definition.environment = readEnvironment(node, what: "env", context: context) }
        if let node = members["vars"] { definition.vars = readVars(node, reader: reader) }
        if let node = members["retry"] { definition.retry = readRetry(node, what: "retry", reader: reader) }
        if let node = members["on"] { readTriggers(node, into: &definition, context: context) }

        guard let stepsNode = members["steps"] else {
            reader.report(root, "a workflow needs \"steps\": a list of at least one step")
            return nil
        }
        guard let items = stepsNode.items, !items.isEmpty else {
            reader.report(stepsNode, "steps must be a non-empty list, found \(stepsNode.items == nil ? stepsNode.kindName : "an empty list")")
            return nil
        }
        definition.steps = readSteps(items, context: context, idRequired: true, generatedPrefix: "step")
        // Handlers run after the steps: each sees every top-level step.
        let mainIDs = Set(definition.steps.map(\.id))
        for key in handlerKeys {
            guard let node = members[key] else { continue }
            guard let handlerItems = node.items else {
                reader.report(node, "\(key) must be a list of steps, found \(node.kindName)")
                continue
            }
            context.visibleSteps = mainIDs
            let handler = readSteps(handlerItems, context: context, idRequired: false, generatedPrefix: key)
            switch key {
            case "on_failure": definition.onFailure = handler
            case "on_success": definition.onSuccess = handler
            default: definition.onCancel = handler
            }
        }
        checkSelfTrigger(definition, reader: reader)
        return definition
    }
}

/// The mutable state of one file's load: the error collector, the step ids seen so
/// far, what steps are visible to expressions at the current place, and the strings
/// waiting for the expression and cron checks. Used by one load, on one thread.
final class WorkflowReadContext {
    let reader = NodeReader()
    /// First location of every step id, for the duplicate message.
    var stepIDLocations: [String: SourceLocation] = [:]
    /// Ids that `steps.<id>` may name at the current place (earlier steps).
    var visibleSteps: Set<String> = []
    /// Depth of foreach bodies around the current place (`item`/`index` in scope when > 0).
    var foreachDepth = 0
    /// Strings holding templates or conditions, checked once the tree is read.
    var templateSites: [TemplateSite] = []
    /// `on.schedule` texts, checked with the cron parser.
    var scheduleSites: [YAMLNode] = []
    /// The connector manifests `uses:` steps are checked against; nil: not checked.
    var connectors: ConnectorCatalog?

    /// Records `node`'s string for the template check, in the current scope.
    func template(_ node: YAMLNode, what: String, mode: TemplateSite.Mode = .template) {
        guard case .scalar(let text, let style) = node.content, node.resolvedScalar != .null else { return }
        if case .string = node.resolvedScalar ?? .string(text) {} else { return }
        templateSites.append(TemplateSite(
            text: text, location: node.location, style: style, what: what, mode: mode,
            visibleSteps: visibleSteps, insideForeach: foreachDepth > 0))
    }

    /// Records every string scalar inside `node` (a JSON-like value) for the template check.
    func templates(in node: YAMLNode, what: String) {
        switch node.content {
        case .scalar: template(node, what: what)
        case .sequence(let items): for item in items { templates(in: item, what: what) }
        case .mapping(let pairs): for pair in pairs { templates(in: pair.value, what: what) }
        }
    }
}

/// A string the expression check will parse, with what it may reference.
struct TemplateSite {
    enum Mode {
        /// Text with `{{ }}` parts.
        case template
        /// An `if:` condition: a template, or a bare expression when it has no `{{`.
        case condition
        /// A foreach list: must hold an expression.
        case list
    }

    var text: String
    var location: SourceLocation
    var style: YAMLScalarStyle
    /// What the string is, for messages: "run", "http.url", "if".
    var what: String
    var mode: Mode
    var visibleSteps: Set<String>
    var insideForeach: Bool
}
