// EngineResumeChanges.swift: what `flowadm resume RUN --set PATH=VALUE` may change.
//
// - vars.NAME: the run's variable, as steps not started yet see it.
// - steps.S.input.KEY: an input of step S, which must not have started yet:
//   uses → its `with:` KEY; run/exec → its environment variable KEY (a value that is
//   not text is given as JSON text); trigger → KEY of the payload it sends. The same by
//   their own names: steps.S.with.KEY, steps.S.env.KEY, steps.S.payload.KEY.
// A value goes through {{ }} interpolation like the definition's own. Completed
// outputs never change. The change set is checked as a whole: one refused path
// changes nothing. (The caller journals the set and who asked.)

extension Engine {
    /// Applies `changes` to `run`, or says why none applies.
    func applyResumeChanges(_ run: inout ActiveRun, _ changes: [String: JSONValue]) -> String? {
        var patched = run
        for (path, value) in changes.sorted(by: { $0.key < $1.key }) {
            if path.hasPrefix("vars."), path.count > 5 {
                patched.vars[String(path.dropFirst(5))] = value
                continue
            }
            guard path.hasPrefix("steps.") else {
                return "--set changes vars.NAME or steps.STEP.input.KEY; \"\(path)\" is neither"
            }
            let parts = path.dropFirst(6).split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty else {
                return "\"\(path)\": expected steps.STEP.input.KEY"
            }
            let (stepID, field, key) = (parts[0], parts[1], parts[2])
            guard var step = Self.step(stepID, in: patched) else {
                return "run \(patched.id) has no step \(stepID)"
            }
            guard !hasStarted(stepID, in: patched) else {
                return "step \(stepID) of run \(patched.id) has already started; --set changes only steps that have not"
            }
            switch (step.kind, field) {
            case (.uses(var uses), "input"), (.uses(var uses), "with"):
                uses.inputs[key] = value
                step.kind = .uses(uses)
            case (.run, "input"), (.run, "env"):
                step.environment[key] = value.stringValue ?? value.serialized()
            case (.trigger(var trigger), "input"), (.trigger(var trigger), "payload"):
                var payload = trigger.payload.objectValue ?? [:]
                payload[key] = value
                trigger.payload = .object(payload)
                step.kind = .trigger(trigger)
            default:
                return "\"\(path)\": step \(stepID) is a \(step.kind.name) step; input.KEY is with: of uses steps, "
                    + "the environment of run/exec steps, the payload of trigger steps"
            }
            patched.replaceStep(step)
        }
        run = patched
        return nil
    }

    /// A step that ran (or runs) in this run or one of its parallel items.
    private func hasStarted(_ stepID: String, in run: ActiveRun) -> Bool {
        if run.results[stepID] != nil || run.current?.definition.id == stepID { return true }
        return runs.values.contains { $0.branchOf == run.id && ($0.results[stepID] != nil || $0.current?.definition.id == stepID) }
    }

    static func step(_ id: String, in run: ActiveRun) -> StepDefinition? {
        func find(_ steps: [StepDefinition]) -> StepDefinition? {
            for step in steps {
                if step.id == id { return step }
                if let found = find(step.fallback) { return found }
                if case .foreach(let loop) = step.kind, let found = find(loop.steps) { return found }
            }
            return nil
        }
        let definition = run.definition
        return find(definition.steps) ?? find(definition.onSuccess) ?? find(definition.onFailure) ?? find(definition.onCancel)
    }
}

extension ActiveRun {
    /// Puts `step` in place of the step with its id: in the definition (frames pushed
    /// later) and in the frames already on the stack.
    mutating func replaceStep(_ step: StepDefinition) {
        func replace(in steps: inout [StepDefinition]) {
            for index in steps.indices {
                if steps[index].id == step.id {
                    steps[index] = step
                    continue
                }
                replace(in: &steps[index].fallback)
                if case .foreach(var loop) = steps[index].kind {
                    replace(in: &loop.steps)
                    steps[index].kind = .foreach(loop)
                }
            }
        }
        replace(in: &definition.steps)
        replace(in: &definition.onSuccess)
        replace(in: &definition.onFailure)
        replace(in: &definition.onCancel)
        for index in frames.indices { replace(in: &frames[index].steps) }
        if parallel != nil { replace(in: &parallel!.body) }  // items of a parallel foreach not started yet
    }
}
