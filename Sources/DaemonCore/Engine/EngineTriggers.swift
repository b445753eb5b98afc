// EngineTriggers.swift: runs started by something other than a spool file: by hand
// (flowadm trigger), and when another workflow's run ends (on.workflow).

extension Engine {
    /// A run just ended: start the workflows that wait for this one with this status.
    func runEnded(_ run: ActiveRun, status: String) {
        // Filter, then sort the few that wait for this workflow: sorting all definitions
        // at every run end moved every WorkflowDefinition n log n times.
        let waiting = definitions.workflows.values.filter { $0.triggers.workflow?.name == run.definition.name }
        for definition in waiting.sorted(by: { $0.name < $1.name }) {
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

// MARK: Schedules

extension Engine {
    /// (Re)arms one timer per schedule of every loaded workflow; at start also fires the
    /// catch-up slot of schedules that ask for it.
    func armSchedules(catchingUp: Bool) {
        for timer in scheduleTimers { loop.cancel(timer) }
        scheduleTimers.removeAll()
        let now = WallClock.nowMicroseconds() / 1_000_000
        // Sorted names, not sorted definitions: sorting moves whole WorkflowDefinitions.
        for name in definitions.workflows.keys.sorted() {
            for trigger in definitions.workflows[name]?.triggers.schedules ?? [] {
                let key = ScheduleKey(workflow: name, schedule: trigger.schedule.canonicalText)
                if catchingUp, let slot = scheduleBook.catchUpSlot(key, trigger, now: now) {
                    fireSchedule(key, trigger, slot: slot, catchUp: true)
                }
                armSchedule(key, trigger, now: now)
            }
        }
    }

    private func armSchedule(_ key: ScheduleKey, _ trigger: ScheduleTrigger, now: Int64) {
        guard let slot = scheduleBook.nextSlot(key, trigger, now: now) else { return }
        let delay = Duration.microseconds(max(0, slot * 1_000_000 - WallClock.nowMicroseconds()))
        scheduleTimers.append(loop.schedule(after: delay) { [self] in
            let now = WallClock.nowMicroseconds() / 1_000_000
            guard now >= slot else { return armSchedule(key, trigger, now: now) }  // the wall clock moved back
            fireSchedule(key, trigger, slot: slot, catchUp: false)
            armSchedule(key, trigger, now: max(now, slot))
        })
    }

    private func fireSchedule(_ key: ScheduleKey, _ trigger: ScheduleTrigger, slot: Int64, catchUp: Bool) {
        if skipsScheduleSlot(key.workflow, schedule: trigger.text, slotText: WallClock.rfc3339(microseconds: slot * 1_000_000)) { return }
        guard phase == .running || phase == .starting, let definition = definitions.workflows[key.workflow],
              scheduleBook.markFired(key, slot: slot) else { return }
        let slotText = WallClock.rfc3339(microseconds: slot * 1_000_000)
        journal.submit([.scheduleFired(workflow: key.workflow, schedule: key.schedule, slot: slot)])
        if queuedCount >= configuration.maxQueuedRuns {
            logger.log(.warning, "schedule \(trigger.text) of \(key.workflow) skipped the \(slotText) slot: \(queuedCount) runs queued",
                       fields: ["FLOWD_WORKFLOW": key.workflow])
            return
        }
        createRun(definition: definition,
                  payload: ["slot": .string(slotText), "schedule": .string(trigger.text), "catch_up": .bool(catchUp)],
                  trigger: TriggerInfo(kind: "schedule", name: trigger.text))
    }
}
