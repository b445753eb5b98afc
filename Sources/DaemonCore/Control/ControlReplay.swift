// ControlReplay.swift: Replay and Diff (SPEC section 4).
//
// Replay makes a new run linked by replay_of, with the original trigger payload and the
// original definition version (its source text is kept in the journal), or today's
// definition with `current`. `from` reuses the recorded outcomes of the steps before it;
// `set` changes payload.* or vars.* first. The original run's record never changes.
// Diff compares two runs: definition (steps added, removed, changed; settings), payload,
// vars, and the first step whose outcome differs.

extension ControlService {
    func replay(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let originalID = try requiredRunID(call.parameters)
        guard let original = try reader.run(id: originalID) else { throw NotFound(kind: "run", name: String(originalID)) }
        let workflow = original["workflow"]?.stringValue ?? ""
        let useCurrent = call.parameters["current"]?.boolValue ?? false
        let wait = call.parameters["wait"]?.boolValue ?? false
        var payload = original["payload"] ?? .null
        var vars = original["vars"]?.objectValue ?? [:]
        for (path, value) in call.parameters["set"]?.objectValue ?? [:] {
            let parts = path.split(separator: ".").map(String.init)
            switch parts.first {
            case "payload" where parts.count > 1: payload = payload.setting(Array(parts.dropFirst()), to: value)
            case "vars" where parts.count == 2: vars[parts[1]] = value
            default:
                reply.error("io.flowd.Control.InvalidState", ["message": .string("--set changes payload.PATH or vars.NAME; \"\(path)\" is neither")])
                return
            }
        }
        var definition: WorkflowDefinition?
        if !useCurrent {
            let version = original["version"]?.stringValue ?? ""
            guard let source = try reader.definition(hash: version)?.source else {
                reply.error("io.flowd.Control.InvalidState", [
                    "message": .string("the text of version \(version.prefix(12)) is not in the journal; replay with --current"),
                ])
                return
            }
            do {
                definition = try WorkflowLoader.load(text: source, path: "journal:\(version.prefix(12))/\(workflow).yaml")
            } catch {
                reply.error("io.flowd.Control.InvalidState", ["message": .string("the recorded version no longer loads: \(error)")])
                return
            }
        }
        var recorded: [String: StepResult] = [:]
        for attempt in original["attempts"]?.arrayValue ?? [] {
            guard let step = attempt["step"]?.stringValue else { continue }
            recorded[step] = StepResult(status: attempt["status"]?.stringValue ?? "", output: attempt["output"] ?? .null,
                                        exitCode: attempt["exit_code"]?.intValue.map { Int32(truncatingIfNeeded: $0) },
                                        attempts: Int(attempt["attempt"]?.intValue ?? 1))
        }
        let originalFile = original["spool_path"]?.stringValue.flatMap { (try? FileSystem.status($0)) != nil ? $0 : nil }
        let request = ReplayRequest(originalID: originalID, definition: definition, workflow: workflow, payload: payload, vars: vars,
                                    fromStep: try optionalString(call.parameters, "from"), recorded: recorded, triggerFile: originalFile)
        let engine = dependencies.engine
        let journal = dependencies.journal
        engine.loop.execute { [self] in
            guard mayAct(peer, on: engine.definitions.workflows[workflow] ?? request.definition) else {
                return denied(reply, peer, "replay run \(originalID)")
            }
            if let refusal = engine.journalRefusal {
                return reply.error("io.flowd.Control.NotAccepting", ["message": .string(refusal)])
            }
            switch engine.replay(request) {
            case .failure(let problem):
                reply.error("io.flowd.Control.InvalidState", ["message": .string(problem.message)])
            case .success(let runID):
                journal.submit([.event(RunEvent(runID: runID, workflow: workflow, kind: "replay", uid: peer.uid, pid: peer.pid,
                                                details: ["of": .int(originalID), "from": request.fromStep.map(JSONValue.string) ?? .null,
                                                          "set": call.parameters["set"] ?? .null, "current": .bool(useCurrent)]))])
                dependencies.logger.log(.notice, "run \(runID) replays run \(originalID) (uid \(peer.uid), pid \(peer.pid))",
                                        id: .adminAction, fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": workflow])
                if wait {
                    engine.runWaiters[runID, default: []].append { status in reply.reply(["run": .int(runID), "status": .string(status)]) }
                } else {
                    reply.reply(["run": .int(runID), "status": "queued"])
                }
            }
        }
    }

    func diff(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard let first = call.parameters["a"]?.intValue, let second = call.parameters["b"]?.intValue else {
            throw InvalidParameter(name: call.parameters["a"]?.intValue == nil ? "a" : "b")
        }
        guard let left = try reader.run(id: first) else { throw NotFound(kind: "run", name: String(first)) }
        guard let right = try reader.run(id: second) else { throw NotFound(kind: "run", name: String(second)) }
        var result: [String: JSONValue] = ["a": .int(first), "b": .int(second)]
        let leftVersion = left["version"]?.stringValue ?? "", rightVersion = right["version"]?.stringValue ?? ""
        var definition: [String: JSONValue] = ["same": .bool(leftVersion == rightVersion),
                                               "a_version": .string(leftVersion), "b_version": .string(rightVersion)]
        if leftVersion != rightVersion,
           let leftCanonical = try reader.definition(hash: leftVersion)?.canonical,
           let rightCanonical = try reader.definition(hash: rightVersion)?.canonical {
            definition.merge(Self.definitionChanges(leftCanonical, rightCanonical)) { $1 }
        }
        result["definition"] = .object(definition)
        result["payload"] = .array(JSONValue.differences(left["payload"] ?? .null, right["payload"] ?? .null, path: "payload"))
        result["vars"] = .array(JSONValue.differences(left["vars"] ?? .null, right["vars"] ?? .null, path: "vars"))
        result["first_differing_step"] = Self.firstDifferingStep(left["attempts"]?.arrayValue ?? [], right["attempts"]?.arrayValue ?? [])
        result["status"] = ["a": left["status"] ?? .null, "b": right["status"] ?? .null]
        reply.reply(result)
    }

    static func definitionChanges(_ left: JSONValue, _ right: JSONValue) -> [String: JSONValue] {
        func steps(_ value: JSONValue) -> [(String, JSONValue)] {
            (value["steps"]?.arrayValue ?? []).map { ($0["id"]?.stringValue ?? "", $0) }
        }
        let leftSteps = steps(left), rightSteps = steps(right)
        let leftByID = Dictionary(leftSteps, uniquingKeysWith: { first, _ in first })
        let rightByID = Dictionary(rightSteps, uniquingKeysWith: { first, _ in first })
        let added = rightSteps.map(\.0).filter { leftByID[$0] == nil }
        let removed = leftSteps.map(\.0).filter { rightByID[$0] == nil }
        let changed = leftSteps.map(\.0).filter { id in rightByID[id].map { $0 != leftByID[id] } ?? false }
        var settings: [JSONValue] = []
        for key in Set((left.objectValue ?? [:]).keys).union((right.objectValue ?? [:]).keys).sorted() where key != "steps" {
            settings += JSONValue.differences(left[key] ?? .null, right[key] ?? .null, path: key)
        }
        return ["steps_added": .array(added.map(JSONValue.string)), "steps_removed": .array(removed.map(JSONValue.string)),
                "steps_changed": .array(changed.map(JSONValue.string)), "settings": .array(settings)]
    }

    /// Walks both runs' steps in execution order; the first whose final outcome differs.
    static func firstDifferingStep(_ left: [JSONValue], _ right: [JSONValue]) -> JSONValue {
        func outcomes(_ attempts: [JSONValue]) -> [(step: String, status: String, output: JSONValue, exit: JSONValue)] {
            var order: [String] = []
            var last: [String: JSONValue] = [:]
            for attempt in attempts {
                guard let step = attempt["step"]?.stringValue else { continue }
                if last[step] == nil { order.append(step) }
                last[step] = attempt
            }
            return order.map { step in
                let attempt = last[step]!
                // A reused outcome counts as the outcome it copies (recorded in its input).
                let status = attempt["status"]?.stringValue ?? ""
                let effective = status == "reused" ? attempt["input"]?["status"]?.stringValue ?? status : status
                return (step, effective, attempt["output"] ?? .null, attempt["exit_code"] ?? .null)
            }
        }
        let leftOutcomes = outcomes(left), rightOutcomes = outcomes(right)
        for index in 0..<max(leftOutcomes.count, rightOutcomes.count) {
            let a = index < leftOutcomes.count ? leftOutcomes[index] : nil
            let b = index < rightOutcomes.count ? rightOutcomes[index] : nil
            guard let a, let b, a.step == b.step, a.status == b.status, a.output == b.output, a.exit == b.exit else {
                func describe(_ outcome: (step: String, status: String, output: JSONValue, exit: JSONValue)?) -> JSONValue {
                    guard let outcome else { return .null }
                    return ["step": .string(outcome.step), "status": .string(outcome.status), "output": outcome.output, "exit_code": outcome.exit]
                }
                return ["a": describe(a), "b": describe(b)]
            }
        }
        return .null
    }
}

extension JSONValue {
    /// The value with `path` (object keys) set to `value`, creating objects on the way.
    func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var members = objectValue ?? [:]
        members[key] = (members[key] ?? .null).setting(Array(path.dropFirst()), to: value)
        return .object(members)
    }

    /// Paths where two values differ: [{path, a, b}], recursing into objects.
    static func differences(_ left: JSONValue, _ right: JSONValue, path: String) -> [JSONValue] {
        if left == right { return [] }
        if case .object(let leftMembers) = left, case .object(let rightMembers) = right {
            return Set(leftMembers.keys).union(rightMembers.keys).sorted().flatMap { key in
                differences(leftMembers[key] ?? .null, rightMembers[key] ?? .null, path: path + "." + key)
            }
        }
        return [["path": .string(path), "a": left, "b": right]]
    }
}
