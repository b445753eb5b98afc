// WorkflowLoader+Triggers.swift: the `on:` mapping — spool, schedule, manual, workflow.
//
// Forms accepted: `spool: { format: F }`, `spool: F`, `spool: true` or a bare `spool:`;
// `schedule:` a cron text, a `{ cron: TEXT, catch_up: BOOL }` mapping, or a list of
// either; `manual: BOOL`; `workflow: { name: N, status: S | [S...] }`. Errors are
// collected in the context; cron texts are parsed later with the expressions.

extension WorkflowLoader {
    static let triggerKeys = ["spool", "schedule", "manual", "workflow"]

    static func readTriggers(_ node: YAMLNode, into definition: inout WorkflowDefinition, context: WorkflowReadContext) {
        let reader = context.reader
        guard let triggers = reader.mapping(node, what: "on", allowed: triggerKeys) else { return }
        if let spool = triggers["spool"] { definition.triggers.spool = readSpoolTrigger(spool, reader: reader) }
        if let schedule = triggers["schedule"] {
            definition.triggers.schedules = readSchedules(schedule, context: context)
        }
        if let manual = triggers["manual"] { definition.triggers.manual = reader.boolean(manual, what: "on.manual") ?? true }
        if let workflow = triggers["workflow"] {
            definition.triggers.workflow = readWorkflowTrigger(workflow, reader: reader)
            if let watched = definition.triggers.workflow?.name, watched == definition.name {
                reader.report(workflow, "on.workflow names this workflow itself; a workflow cannot start on its own runs")
            }
        }
    }

    private static func readSpoolTrigger(_ node: YAMLNode, reader: NodeReader) -> SpoolTrigger? {
        switch node.resolvedScalar {
        case .bool(true)?, .null?:
            return SpoolTrigger()
        case .bool(false)?:
            return nil
        case .string(let text)?:
            return format(text, node: node, reader: reader).map { SpoolTrigger(format: $0) }
        default:
            break
        }
        guard let options = reader.mapping(node, what: "on.spool", allowed: ["format"]) else { return nil }
        guard let formatNode = options["format"] else { return SpoolTrigger() }
        guard let text = reader.string(formatNode, what: "on.spool.format") else { return nil }
        return format(text, node: formatNode, reader: reader).map { SpoolTrigger(format: $0) }
    }

    private static func format(_ text: String, node: YAMLNode, reader: NodeReader) -> PayloadFormat? {
        guard let format = PayloadFormat(rawValue: text) else {
            reader.report(node, "on.spool.format must be one of json, yaml, raw, lines; found \(quote(text))")
            return nil
        }
        return format
    }

    private static func readSchedules(_ node: YAMLNode, context: WorkflowReadContext) -> [ScheduleTrigger] {
        let entries = node.items ?? [node]
        if node.items?.isEmpty == true { context.reader.report(node, "on.schedule must not be an empty list") }
        return entries.compactMap { readSchedule($0, context: context) }
    }

    private static func readSchedule(_ node: YAMLNode, context: WorkflowReadContext) -> ScheduleTrigger? {
        let reader = context.reader
        var textNode = node
        var catchUp = false
        if node.pairs != nil {
            guard let members = reader.mapping(node, what: "on.schedule", allowed: ["cron", "catch_up"]) else { return nil }
            guard let cron = members["cron"] else {
                reader.report(node, "on.schedule needs \"cron\": a cron text such as \"30 3 * * *\"")
                return nil
            }
            textNode = cron
            if let flag = members["catch_up"] { catchUp = reader.boolean(flag, what: "on.schedule.catch_up") ?? false }
        }
        guard case .scalar(let text, _) = textNode.content, case .string? = textNode.resolvedScalar else {
            reader.report(textNode, "on.schedule must be a cron text such as \"30 3 * * *\", found \(textNode.kindName)")
            return nil
        }
        guard let schedule = parseSchedule(textNode, context: context) else { return nil }
        return ScheduleTrigger(text: text, schedule: schedule, catchUp: catchUp, location: textNode.location)
    }

    private static func readWorkflowTrigger(_ node: YAMLNode, reader: NodeReader) -> WorkflowTrigger? {
        guard let members = reader.mapping(node, what: "on.workflow", allowed: ["name", "status"]) else { return nil }
        guard let nameNode = members["name"] else {
            reader.report(node, "on.workflow needs \"name\": the workflow whose runs start this one")
            return nil
        }
        guard let name = reader.string(nameNode, what: "on.workflow.name") else { return nil }
        if !isValidName(name) {
            reader.report(nameNode, "on.workflow.name \(quote(name)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
        }
        var statuses: [WorkflowTrigger.Status] = [.succeeded, .failed, .cancelled]
        if let statusNode = members["status"], let texts = reader.stringOrList(statusNode, what: "on.workflow.status") {
            statuses = []
            let allowed = WorkflowTrigger.Status.allCases.map(\.rawValue).joined(separator: ", ")
            for (text, item) in texts {
                if let status = WorkflowTrigger.Status(rawValue: text) {
                    if !statuses.contains(status) { statuses.append(status) }
                } else {
                    reader.report(item, "on.workflow.status must be one of \(allowed); found \(quote(text))")
                }
            }
            statuses.sort { $0.rawValue < $1.rawValue }
        }
        return WorkflowTrigger(name: name, statuses: statuses)
    }
}
