// DefinitionSummary.swift: a short, stable JSON description of a loaded workflow.
//
// What `flowadm validate` (and any listing) shows: name, version, triggers with the
// next fire times of each schedule, and the step ids. Fire times are RFC 3339 UTC
// text; clients show them in local time. Nothing here fails.

extension WorkflowDefinition {
    /// `{name, version, triggers, steps, step_count, next_fires}` with `fireCount` next
    /// fire times per schedule after `now` (unix seconds).
    public func summaryJSON(now: Int64, fireCount: Int = 3) -> JSONValue {
        var nextFires: [JSONValue] = []
        let schedules = triggers.schedules.map { trigger -> JSONValue in
            let fires = trigger.schedule.nextFires(after: now, count: fireCount)
                .map { JSONValue.string(WallClock.rfc3339(microseconds: $0 * 1_000_000)) }
            nextFires.append(contentsOf: fires)
            return [
                "cron": .string(trigger.text),
                "canonical": .string(trigger.schedule.canonicalText),
                "catch_up": .bool(trigger.catchUp),
                "next_fires": .array(fires),
            ]
        }
        var triggerJSON: [String: JSONValue] = [
            "spool": triggers.spool.map { .string($0.format.rawValue) } ?? .null,
            "schedules": .array(schedules),
            "manual": .bool(triggers.manual),
            "workflow": .null,
        ]
        if let workflow = triggers.workflow {
            triggerJSON["workflow"] = ["name": .string(workflow.name), "status": .array(workflow.statuses.map { .string($0.rawValue) })]
        }
        return [
            "name": .string(name),
            "version": .string(version),
            "triggers": .object(triggerJSON),
            "steps": .array(steps.map { .string($0.id) }),
            "step_count": .int(Int64(steps.count)),
            "next_fires": .array(nextFires.sorted { ($0.stringValue ?? "") < ($1.stringValue ?? "") }),
        ]
    }
}
