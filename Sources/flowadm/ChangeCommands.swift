// ChangeCommands.swift: flowadm verbs that change things: trigger and cancel.

import DaemonCore
import Foundation

enum ChangeCommands {
    static func trigger(_ invocation: Invocation) throws {
        var workflow: String?
        var payload: JSONValue = .object([:])
        var wait = false
        var arguments = invocation.arguments[...]
        while let argument = arguments.popFirst() {
            switch argument {
            case "--payload":
                guard let text = arguments.popFirst() else { throw UsageError(message: "--payload needs JSON") }
                do { payload = try JSONValue.parse(text) } catch { throw UsageError(message: "--payload is not valid JSON: \(error)") }
            case "--file":
                guard let path = arguments.popFirst() else { throw UsageError(message: "--file needs a path") }
                do {
                    payload = try JSONValue.parse(FileSystem.readRegularFile(path, maxBytes: 1 << 20))
                } catch {
                    throw CommandFailure(message: "cannot use \(path) as the payload: \(error)")
                }
            case "--wait": wait = true
            default:
                guard workflow == nil, !argument.hasPrefix("-") else { throw UsageError(message: "unknown argument \(argument)") }
                workflow = argument
            }
        }
        guard let workflow else { throw UsageError(message: "trigger needs a workflow name") }
        let client = try VarlinkClient(socketPath: invocation.socketPath, timeoutSeconds: wait ? 7 * 86_400 : 30)
        let reply = try client.call("io.flowd.Control.Trigger",
                                    ["workflow": .string(workflow), "payload": payload, "wait": .bool(wait)])
        if invocation.json { invocation.printJSON(.object(reply)) } else {
            print("run \(reply["run"]?.intValue ?? 0) of \(workflow) \(wait ? Output.status(reply["status"]?.stringValue ?? "?") : "queued")")
        }
        if wait && reply["status"] != "succeeded" { throw CommandFailure(message: "", status: 1) }
    }

    static func cancel(_ invocation: Invocation) throws {
        guard invocation.arguments.count == 1, let id = Int64(invocation.arguments[0]), id > 0 else {
            throw UsageError(message: "cancel needs one run number")
        }
        let client = try VarlinkClient(socketPath: invocation.socketPath, timeoutSeconds: 120)
        let reply = try client.call("io.flowd.Control.CancelRun", ["id": .int(id)])
        if invocation.json { return invocation.printJSON(.object(reply)) }
        print("run \(id) \(Output.status(reply["status"]?.stringValue ?? "?"))")
    }
}

extension ChangeCommands {
    /// `k=v` pairs: the value as JSON when it parses (true, 3, "x", [1]), else as text.
    static func assignments(_ texts: [String], option: String) throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for text in texts {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw UsageError(message: "\(option) takes NAME=VALUE, not \"\(text)\"")
            }
            let raw = String(text[text.index(after: equals)...])
            values[String(text[..<equals])] = (try? JSONValue.parse(raw)) ?? .string(raw)
        }
        return values
    }

    /// Splits arguments into positional ones and the values of repeated `option VALUE`.
    static func split(_ arguments: [String], option: String, flags: Set<String> = []) throws -> (positional: [String], values: [String], flags: Set<String>) {
        var positional: [String] = [], values: [String] = [], seen: Set<String> = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == option {
                guard let value = rest.popFirst() else { throw UsageError(message: "\(option) needs NAME=VALUE") }
                values.append(value)
            } else if flags.contains(argument) {
                seen.insert(argument)
            } else if argument.hasPrefix("-") {
                throw UsageError(message: "unknown option \(argument)")
            } else {
                positional.append(argument)
            }
        }
        return (positional, values, seen)
    }

    static func pause(_ invocation: Invocation) throws {
        let (positional, _, flags) = try split(invocation.arguments, option: "--none", flags: ["--kill"])
        guard positional.count == 1 else { throw UsageError(message: "pause needs one workflow name or run number") }
        if let id = Int64(positional[0]) {
            _ = try invocation.call("PauseRun", ["id": .int(id), "kill": .bool(flags.contains("--kill"))])
            if !invocation.json { print("run \(id) pauses at its next step boundary" + (flags.contains("--kill") ? " (running step stopped)" : "")) }
        } else {
            guard !flags.contains("--kill") else { throw UsageError(message: "--kill applies to a run") }
            _ = try invocation.call("PauseWorkflow", ["name": .string(positional[0])])
            if !invocation.json { print("workflow \(positional[0]) paused: no new runs start; its spool files wait") }
        }
        if invocation.json { invocation.printJSON(.object([:])) }
    }

    static func resume(_ invocation: Invocation) throws {
        let (positional, sets, _) = try split(invocation.arguments, option: "--set")
        guard positional.count == 1 else { throw UsageError(message: "resume needs one workflow name or run number") }
        if let id = Int64(positional[0]) {
            _ = try invocation.call("ResumeRun", ["id": .int(id), "set": .object(try assignments(sets, option: "--set"))])
            if !invocation.json { print("run \(id) resumed" + (sets.isEmpty ? "" : " with \(sets.joined(separator: ", "))")) }
        } else {
            guard sets.isEmpty else { throw UsageError(message: "--set applies to a run") }
            _ = try invocation.call("ResumeWorkflow", ["name": .string(positional[0])])
            if !invocation.json { print("workflow \(positional[0]) resumed") }
        }
        if invocation.json { invocation.printJSON(.object([:])) }
    }

    static func prompts(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "prompts takes no arguments") }
        let reply = try invocation.call("ListPrompts")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let prompts = reply["prompts"]?.arrayValue ?? []
        if prompts.isEmpty { return print("no run is waiting for an approval") }
        for prompt in prompts {
            print("run \(prompt["run"]?.intValue ?? 0) (\(prompt["workflow"]?.stringValue ?? "")) step \(prompt["step"]?.stringValue ?? "")"
                  + (prompt["item"]?.intValue.map { " item \($0)" } ?? "") + ", "
                  + "waiting since \(Output.localTime(prompt["waiting_since"]))"
                  + (prompt["deadline"] == .null ? "" : ", until \(Output.localTime(prompt["deadline"]))"))
            print("  \(prompt["prompt"]?.stringValue ?? "")")
            for field in prompt["fields"]?.arrayValue ?? [] {
                let required = field["required"] == true ? ", required" : ""
                let allowed = field["enum"]?.arrayValue.map { ", one of " + $0.map { $0.serialized() }.joined(separator: "|") } ?? ""
                print("  --field \(field["name"]?.stringValue ?? "")=<\(field["type"]?.stringValue ?? "")\(required)\(allowed)>")
            }
        }
    }

    static func approve(_ invocation: Invocation) throws { try answer(invocation, approve: true) }
    static func reject(_ invocation: Invocation) throws { try answer(invocation, approve: false) }

    private static func answer(_ invocation: Invocation, approve: Bool) throws {
        let (positional, fields, _) = try split(invocation.arguments, option: "--field")
        guard (1...2).contains(positional.count), let id = Int64(positional[0]) else {
            throw UsageError(message: "\(approve ? "approve" : "reject") needs a run number and optionally the step")
        }
        var parameters: [String: JSONValue] = ["id": .int(id), "fields": .object(try assignments(fields, option: "--field"))]
        if positional.count == 2 { parameters["step"] = .string(positional[1]) }
        _ = try invocation.call(approve ? "Approve" : "Reject", parameters)
        if invocation.json { return invocation.printJSON(.object([:])) }
        print("run \(id) \(approve ? "approved" : "rejected")")
    }
}

extension ChangeCommands {
    static func replay(_ invocation: Invocation) throws {
        var positional: [String] = [], sets: [String] = []
        var from: String?
        var current = false, wait = false
        var rest = invocation.arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--from":
                guard let step = rest.popFirst() else { throw UsageError(message: "--from needs a step id") }
                from = step
            case "--set":
                guard let value = rest.popFirst() else { throw UsageError(message: "--set needs PATH=VALUE") }
                sets.append(value)
            case "--current": current = true
            case "--wait": wait = true
            default:
                guard !argument.hasPrefix("-") else { throw UsageError(message: "unknown option \(argument)") }
                positional.append(argument)
            }
        }
        guard positional.count == 1, let id = Int64(positional[0]) else { throw UsageError(message: "replay needs one run number") }
        var parameters: [String: JSONValue] = ["id": .int(id), "set": .object(try assignments(sets, option: "--set")),
                                               "current": .bool(current), "wait": .bool(wait)]
        if let from { parameters["from"] = .string(from) }
        let client = try VarlinkClient(socketPath: invocation.socketPath, timeoutSeconds: wait ? 7 * 86_400 : 30)
        let reply = try client.call("io.flowd.Control.Replay", parameters)
        if invocation.json { invocation.printJSON(.object(reply)) } else {
            print("run \(reply["run"]?.intValue ?? 0) replays run \(id): \(Output.status(reply["status"]?.stringValue ?? "?"))")
        }
        if wait && reply["status"] != "succeeded" { throw CommandFailure(message: "", status: 1) }
    }

    static func diff(_ invocation: Invocation) throws {
        guard invocation.arguments.count == 2, let first = Int64(invocation.arguments[0]), let second = Int64(invocation.arguments[1]) else {
            throw UsageError(message: "diff needs two run numbers")
        }
        let reply = try invocation.call("Diff", ["a": .int(first), "b": .int(second)])
        if invocation.json { return invocation.printJSON(.object(reply)) }
        print("run \(first) (\(reply["status"]?["a"]?.stringValue ?? "?")) vs run \(second) (\(reply["status"]?["b"]?.stringValue ?? "?"))")
        let definition = reply["definition"]
        if definition?["same"] == true {
            print("definition: same version \(definition?["a_version"]?.stringValue?.prefix(12) ?? "")")
        } else {
            print("definition: \(definition?["a_version"]?.stringValue?.prefix(12) ?? "") -> \(definition?["b_version"]?.stringValue?.prefix(12) ?? "")")
            for (label, key) in [("steps added", "steps_added"), ("steps removed", "steps_removed"), ("steps changed", "steps_changed")] {
                let ids = definition?[key]?.arrayValue?.compactMap(\.stringValue) ?? []
                if !ids.isEmpty { print("  \(label): \(ids.joined(separator: ", "))") }
            }
            for change in definition?["settings"]?.arrayValue ?? [] { print("  " + describeChange(change)) }
        }
        for section in ["payload", "vars"] {
            let changes = reply[section]?.arrayValue ?? []
            print("\(section): " + (changes.isEmpty ? "same" : ""))
            for change in changes { print("  " + describeChange(change)) }
        }
        if let step = reply["first_differing_step"], step != .null {
            func side(_ value: JSONValue?) -> String {
                guard let value, value != .null else { return "(not run)" }
                return "\(value["step"]?.stringValue ?? "") \(value["status"]?.stringValue ?? "")"
                    + (value["exit_code"]?.intValue.map { " exit \($0)" } ?? "") + " output \(value["output"]?.serialized() ?? "null")"
            }
            print("first differing step:\n  \(first): \(side(step["a"]))\n  \(second): \(side(step["b"]))")
        } else {
            print("steps: same outcomes")
        }
    }

    private static func describeChange(_ change: JSONValue) -> String {
        "\(change["path"]?.stringValue ?? ""): \(change["a"]?.serialized() ?? "null") -> \(change["b"]?.serialized() ?? "null")"
    }
}

extension ChangeCommands {
    /// hold/release/requeue/delete WORKFLOW/FILE
    static func spoolFile(_ action: String) -> @Sendable (Invocation) throws -> Void {
        { invocation in
            guard invocation.arguments.count == 1, let slash = invocation.arguments[0].firstIndex(of: "/") else {
                throw UsageError(message: "\(action) needs WORKFLOW/FILE")
            }
            let text = invocation.arguments[0]
            let workflow = String(text[..<slash]), file = String(text[text.index(after: slash)...])
            _ = try invocation.call("ManageSpoolFile", ["action": .string(action), "workflow": .string(workflow), "file": .string(file)])
            if invocation.json { return invocation.printJSON(.object([:])) }
            let done = ["hold": "held", "release": "released", "requeue": "requeued", "delete": "deleted"][action] ?? action
            print("\(workflow)/\(file) \(done)")
        }
    }
}

extension ChangeCommands {
    static func skip(_ invocation: Invocation) throws {
        guard invocation.arguments.count == 2, let id = Int64(invocation.arguments[0]) else {
            throw UsageError(message: "skip needs a run number and the step")
        }
        _ = try invocation.call("SkipStep", ["id": .int(id), "step": .string(invocation.arguments[1])])
        if invocation.json { return invocation.printJSON(.object([:])) }
        print("run \(id): step \(invocation.arguments[1]) counted as succeeded")
    }
}
