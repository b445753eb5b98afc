// EngineTriggers.swift: runs started by something other than a spool file: by hand
// (flowadm trigger), and when another workflow's run ends (on.workflow).

extension Engine {
    /// A run just ended: start the workflows that wait for this one with this status.
    func runEnded(_ run: ActiveRun, status: String) {
        for definition in definitions.workflows.values.sorted(by: { $0.name < $1.name }) {
            guard let trigger = definition.triggers.workflow, trigger.name == run.definition.name,
                  trigger.statuses.isEmpty || trigger.statuses.contains(where: { $0.rawValue == status }) else { continue }
            createRun(definition: definition,
                      payload: ["run": .int(run.id), "workflow": .string(run.definition.name), "status": .string(status)],
                      trigger: TriggerInfo(kind: "workflow", name: "\(run.definition.name)#\(run.id)"), parentRun: run.id)
        }
    }

    /// flowadm trigger: a manual run with `payload`. Nil when there is no such workflow.
    func triggerManually(workflow: String, payload: JSONValue, byUID uid: UInt32) -> Int64? {
        guard phase == .running, let definition = definitions.workflows[workflow] else { return nil }
        return createRun(definition: definition, payload: payload, trigger: TriggerInfo(kind: "manual", name: "uid \(uid)"))
    }
}
