// WorkflowLoader+SelfTrigger.swift: a workflow that waits for a run of itself.
//
// With `concurrency: 1`, a trigger step with `wait: true` on its own workflow starts a
// run that can only begin once the waiting run ends: it would wait forever. That is a
// definition error. Longer cycles (A waits for B, B waits for A) and busy slots depend
// on what runs at the time; the engine catches those when the step starts
// (Engine.triggerWouldDeadlock).

extension WorkflowLoader {
    static func checkSelfTrigger(_ definition: WorkflowDefinition, reader: NodeReader) {
        guard definition.concurrency == 1 else { return }
        func walk(_ steps: [StepDefinition]) {
            for step in steps {
                if case .trigger(let trigger) = step.kind, trigger.wait, trigger.workflow == definition.name {
                    reader.report(step.location, "step \(quote(step.id)) waits for a run of its own workflow \(definition.name), "
                                  + "which allows one run at a time: that run could only start after this one ends, so it would "
                                  + "wait forever; use wait: false or concurrency: 2 or more")
                }
                walk(step.fallback)
                if case .foreach(let loop) = step.kind { walk(loop.steps) }
            }
        }
        for steps in [definition.steps, definition.onSuccess, definition.onFailure, definition.onCancel] { walk(steps) }
    }
}
