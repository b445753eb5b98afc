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
            print("run \(prompt["run"]?.intValue ?? 0) (\(prompt["workflow"]?.stringValue ?? "")) step \(prompt["step"]?.stringValue ?? ""), "
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
