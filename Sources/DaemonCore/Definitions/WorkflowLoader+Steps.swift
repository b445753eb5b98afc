// WorkflowLoader+Steps.swift: a list of steps, and the keys every step shares.
//
// A step is a mapping with exactly one kind key (run, exec, http, set, foreach, sleep,
// approval, trigger, uses, fail), the common keys (id, name, if, timeout, retry,
// idempotent, continue_on_error, fallback) and the extra keys of its kind. Step ids
// are unique across the whole workflow; handler and fallback steps may omit theirs and
// get a generated one. Scope for `steps.<id>` references: the steps before this one at
// its level and around it (fallback steps also see the step they stand in for).

extension WorkflowLoader {
    static let kindKeys = ["run", "exec", "http", "set", "foreach", "sleep", "approval", "trigger", "uses", "fail"]
    static let commonStepKeys = ["id", "name", "if", "timeout", "retry", "idempotent", "continue_on_error", "fallback"]
    /// Keys that belong to one family of kinds, with the kinds they go with.
    static let kindExtraKeys: [(key: String, kinds: [String])] = [
        ("shell", ["run"]), ("env", ["run", "exec"]), ("cwd", ["run", "exec"]), ("user", ["run", "exec"]),
        ("group", ["run", "exec"]), ("stdin", ["run", "exec"]), ("outputs", ["run", "exec"]),
        ("do", ["foreach"]), ("parallel", ["foreach"]), ("max_items", ["foreach"]), ("with", ["uses"]),
    ]
    static let stepKeys = commonStepKeys + kindKeys + kindExtraKeys.map(\.key)

    /// Reads a list of steps in order; each one becomes visible to the ones after it.
    static func readSteps(_ items: [YAMLNode], context: WorkflowReadContext, idRequired: Bool,
                          generatedPrefix: String) -> [StepDefinition] {
        var steps: [StepDefinition] = []
        for (index, item) in items.enumerated() {
            let generatedID = idRequired ? nil : "\(generatedPrefix)-\(index + 1)"
            if let step = readStep(item, context: context, generatedID: generatedID) {
                steps.append(step)
                context.visibleSteps.insert(step.id)
            }
        }
        return steps
    }

    private static func readStep(_ node: YAMLNode, context: WorkflowReadContext, generatedID: String?) -> StepDefinition? {
        let reader = context.reader
        guard let members = reader.mapping(node, what: "a step", allowed: stepKeys) else { return nil }
        var id: String
        if let idNode = members["id"] {
            guard let text = reader.string(idNode, what: "step id") else { return nil }
            id = text
            if !isValidName(id) {
                reader.report(idNode, "step id \(quote(id)) is invalid; ids match [a-z0-9][a-z0-9_-]{0,63}")
            }
            if let first = context.stepIDLocations[id] {
                reader.report(idNode, "duplicate step id \(quote(id)) (first at line \(first.line))")
            } else {
                context.stepIDLocations[id] = idNode.location
            }
        } else if let generatedID {
            id = generatedID
            context.stepIDLocations[id] = context.stepIDLocations[id] ?? node.location
        } else {
            reader.report(node, "a step needs an \"id\"")
            return nil
        }

        // Exactly one kind; extras only with their kind.
        let presentKinds = (node.pairs ?? []).compactMap(\.key.scalarText).filter { kindKeys.contains($0) }
        guard let kindKey = presentKinds.first else {
            reader.report(node, "step \(quote(id)) needs an action: one of \(kindKeys.joined(separator: ", "))")
            return nil
        }
        guard presentKinds.count == 1 else {
            let listed = presentKinds.count == 2 ? "both \(presentKinds[0]) and \(presentKinds[1])"
                : presentKinds.dropLast().joined(separator: ", ") + " and " + presentKinds.last!
            reader.report(node, "step \(quote(id)) has \(listed); a step does exactly one thing")
            return nil
        }
        for pair in node.pairs ?? [] {
            guard let key = pair.key.scalarText, let extra = kindExtraKeys.first(where: { $0.key == key }),
                  !extra.kinds.contains(kindKey) else { continue }
            reader.report(pair.key, "\(quote(key)) applies to \(extra.kinds.joined(separator: " and ")) steps, not to \(kindKey)")
        }

        // Common keys. `if` and the kind's strings see the steps before this one.
        if let value = members["if"], reader.string(value, what: "if") != nil {
            context.template(value, what: "if", mode: .condition)
        }
        let outerVisible = context.visibleSteps
        guard let kind = readKind(kindKey, members: members, step: id, context: context) else { return nil }
        var step = StepDefinition(id: id, kind: kind, location: node.location)
        if let value = members["name"] { step.name = reader.string(value, what: "name") }
        step.condition = members["if"].flatMap(\.scalarText).map(bareExpressionAsTemplate)
        if let value = members["timeout"] { step.timeout = reader.positiveDuration(value, what: "timeout") }
        if let value = members["retry"] { step.retry = readRetry(value, what: "retry", reader: reader) }
        if let value = members["idempotent"] { step.idempotent = reader.boolean(value, what: "idempotent") ?? false }
        if let value = members["continue_on_error"] {
            step.continueOnError = reader.boolean(value, what: "continue_on_error") ?? false
        }
        if case .run = kind {
            if let value = members["env"] { step.environment = readEnvironment(value, what: "env", context: context) }
            if let value = members["cwd"], reader.string(value, what: "cwd") != nil {
                step.workingDirectory = value.scalarText
                context.template(value, what: "cwd")
            }
        }
        if let value = members["fallback"] {
            if let items = value.items, !items.isEmpty {
                context.visibleSteps = outerVisible.union([id])
                step.fallback = readSteps(items, context: context, idRequired: false, generatedPrefix: "\(id)-fallback")
            } else {
                reader.report(value, "fallback must be a non-empty list of steps, found \(value.items == nil ? value.kindName : "an empty list")")
            }
        }
        context.visibleSteps = outerVisible
        return step
    }

    /// `if:` and `foreach:` take a bare expression as well as a template (the check
    /// parses both); the engine evaluates templates, so a bare one is stored wrapped in
    /// `{{ }}` (`if: steps.a.status == "failed"` is the condition, not a non-empty text).
    static func bareExpressionAsTemplate(_ text: String) -> String {
        text.contains("{{") ? text : "{{ " + text + " }}"
    }
}
