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
