// ObserveCommands.swift: flowadm verbs that look at runs as they happen or happened:
// logs (with -f), watch, stats, metrics, spool, workflow NAME, reload.

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

enum ObserveCommands {
    static func logs(_ invocation: Invocation) throws {
        var follow = false
        var runID: Int64?
        for argument in invocation.arguments {
            if argument == "-f" || argument == "--follow" { follow = true; continue }
            guard runID == nil, let id = Int64(argument), id > 0 else { throw UsageError(message: "logs needs one run number") }
            runID = id
        }
        guard let runID else { throw UsageError(message: "logs needs one run number") }
        if !follow {
            let reply = try invocation.call("GetLogs", ["id": .int(runID)])
            if invocation.json { return invocation.printJSON(.object(reply)) }
            for entry in reply["entries"]?.arrayValue ?? [] { printEntry(entry) }
            return
        }
        var failure: Error?
        try invocation.client().callMore("io.flowd.Control.GetLogs", ["id": .int(runID), "follow": true]) { reply in
            if invocation.json {
                print(JSONValue.object(reply).serialized())
            } else {
                for entry in reply["entries"]?.arrayValue ?? [] { printEntry(entry) }
            }
            guard let event = reply["event"] else { return reply["status"] == nil || !isFinal(reply["status"]) }
            if !invocation.json, event["kind"] == "attempt_finished" { printEntry(event) }
            if event["kind"] == "run_finished" {
                if !invocation.json { print("run \(runID) \(Output.status(event["status"]?.stringValue ?? "?"))") }
                if event["status"] != "succeeded" { failure = CommandFailure(message: "", status: 1) }
                return false
            }
            return true
        }
        if let failure { throw failure }
    }

    private static func isFinal(_ status: JSONValue?) -> Bool {
        ["succeeded", "failed", "cancelled", "interrupted"].contains(status?.stringValue ?? "")
    }

    private static func printEntry(_ entry: JSONValue) {
        let exit = entry["exit_code"]?.intValue.map { "exit \($0)" } ?? "no exit code"
        print("\(entry["step"]?.stringValue ?? "?") #\(entry["attempt"]?.intValue ?? 0) "
              + "\(Output.status(entry["status"]?.stringValue ?? "?")) (\(exit), \(Output.duration(entry["duration_ms"])))")
        for stream in ["stdout", "stderr"] {
            guard let text = entry[stream]?.stringValue, !text.isEmpty else { continue }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
                print(stream == "stdout" ? "  | \(line)" : "  ! \(line)")
            }
        }
        if let error = entry["error"]?.stringValue { print("  error: \(error)") }
    }

    static func watch(_ invocation: Invocation) throws {
        var parameters: [String: JSONValue] = [:]
        var arguments = invocation.arguments[...]
        while let option = arguments.popFirst() {
            guard let value = arguments.popFirst() else { throw UsageError(message: "\(option) needs a value") }
            switch option {
            case "--workflow": parameters["workflow"] = .string(value)
            case "--run":
                guard let id = Int64(value) else { throw UsageError(message: "--run needs a run number") }
                parameters["run"] = .int(id)
            default: throw UsageError(message: "unknown option \(option) for watch")
            }
        }
        try invocation.client().callMore("io.flowd.Control.Watch", parameters) { reply in
            guard let event = reply["event"] else { return true }
            if event["kind"] == "watching" {
                writeError("flowadm: watching flowd events; Ctrl-C stops\n")
                return true
            }
            if invocation.json {
                print(event.serialized())
            } else {
                print(describe(event))
            }
            fflush(nil)
            return true
        }
    }

    static func describe(_ event: JSONValue) -> String {
        let time = Output.localTime(event["at"]).split(separator: " ").last.map(String.init) ?? "-"
        let subject = event["run"].flatMap(\.intValue).map { "run \($0) " } ?? ""
        let workflow = event["workflow"]?.stringValue ?? ""
        let kind = event["kind"]?.stringValue ?? "?"
        var detail = ""
        switch kind {
        case "attempt_started": detail = "\(event["step"]?.stringValue ?? "") #\(event["attempt"]?.intValue ?? 1)"
        case "attempt_finished":
            detail = "\(event["step"]?.stringValue ?? "") #\(event["attempt"]?.intValue ?? 1) \(Output.status(event["status"]?.stringValue ?? ""))"
                + (event["exit_code"]?.intValue.map { " exit \($0)" } ?? "") + " (\(Output.duration(event["duration_ms"])))"
        case "run_finished": detail = Output.status(event["status"]?.stringValue ?? "") + " (\(Output.duration(event["duration_ms"])))"
        case "run_queued": detail = event["trigger"]?["name"]?.stringValue ?? ""
        case "spool_rejected": detail = event["reason"]?.stringValue ?? ""
        default: break
        }
        return "\(time)  \(subject)\(workflow)  \(kind.replacingUnderscores)  \(detail)"
    }

    static func stats(_ invocation: Invocation) throws {
        var parameters: [String: JSONValue] = [:]
        var arguments = invocation.arguments[...]
        while let argument = arguments.popFirst() {
            if argument == "--last" {
                guard let value = arguments.popFirst(), let count = Int64(value), count > 0 else {
                    throw UsageError(message: "--last needs a positive number")
                }
                parameters["last"] = .int(count)
            } else if parameters["workflow"] == nil && !argument.hasPrefix("-") {
                parameters["workflow"] = .string(argument)
            } else {
                throw UsageError(message: "unknown argument \(argument) for stats")
            }
        }
        let reply = try invocation.call("GetStats", parameters)
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let rows = (reply["workflows"]?.arrayValue ?? []).map { stats -> [String] in
            let rate = stats["success_rate"]?.doubleValue.map { String(Int(($0 * 100).rounded())) + "%" } ?? "-"
            let durations = stats["duration_ms"]
            return [stats["workflow"]?.stringValue ?? "", String(stats["runs"]?.intValue ?? 0), rate,
                    Output.duration(durations?["min"]), Output.duration(durations?["avg"]),
                    Output.duration(durations?["p95"]), Output.duration(durations?["max"]),
                    stats["most_failing_step"]?["step"]?.stringValue ?? "-"]
        }
        print(Output.table(["WORKFLOW", "RUNS", "OK", "MIN", "AVG", "P95", "MAX", "FAILS MOST"], rows))
        for stats in reply["workflows"]?.arrayValue ?? [] {
            guard let error = stats["last_error"], error != .null else { continue }
            print("\(stats["workflow"]?.stringValue ?? ""): last error in run \(error["run"]?.intValue ?? 0) at "
                  + "\(error["step"]?.stringValue ?? "?"): \(error["error"]?.stringValue ?? "")")
        }
        print("(over the last \(reply["window"]?.intValue ?? 0) finished runs of each workflow)")
    }

    static func metrics(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "metrics takes no arguments") }
        let reply = try invocation.call("GetMetrics")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        print(reply["text"]?.stringValue ?? "", terminator: "")
    }

    static func spool(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "spool takes no arguments") }
        let reply = try invocation.call("ListSpool")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let pending = (reply["pending"]?.arrayValue ?? []).map { [$0["workflow"]?.stringValue ?? "", String($0["files"]?.intValue ?? 0)] }
        print("pending in incoming/:")
        print(pending.isEmpty ? "  none" : Output.table(["WORKFLOW", "FILES"], pending).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        let held = reply["held"]?.arrayValue ?? []
        print("\nheld: \(held.isEmpty ? "none" : "")")
        for file in held { print("  \(file["workflow"]?.stringValue ?? "")/\(file["file"]?.stringValue ?? "")") }
        let rejected = reply["rejected"]?.arrayValue ?? []
        print("\nrejected: \(rejected.isEmpty ? "none" : "")")
        for file in rejected {
            print("  \(file["workflow"]?.stringValue ?? "")/\(file["file"]?.stringValue ?? "")  \(Output.localTime(file["rejected_at"]))")
            print("    \(file["reason"]?.stringValue ?? "")")
        }
    }

    static func workflow(_ invocation: Invocation) throws {
        guard invocation.arguments.count == 1 else { throw UsageError(message: "workflow needs one workflow name") }
        let reply = try invocation.call("GetWorkflow", ["name": .string(invocation.arguments[0])])
        if invocation.json { return invocation.printJSON(.object(reply)) }
        if let workflow = reply["workflow"], workflow != .null {
            print("workflow \(workflow["name"]?.stringValue ?? "")  (\(workflow["path"]?.stringValue ?? ""))")
            if let description = workflow["description"]?.stringValue { print("  \(description)") }
            print("  current version \(workflow["version"]?.stringValue ?? "")")
            print("  \(workflow["steps"]?.intValue ?? 0) step(s); triggers: "
                  + (workflow["triggers"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))
        } else {
            print("workflow \(invocation.arguments[0]) is not loaded now (its file is gone or invalid)")
        }
        let versions = (reply["versions"]?.arrayValue ?? []).map {
            [$0["version"]?.stringValue ?? "", Output.localTime($0["loaded_at"])]
        }
        print("\n" + Output.table(["VERSION", "FIRST LOADED"], versions))
    }

    static func reload(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "reload takes no arguments") }
        let reply = try invocation.call("Reload")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        print("reloaded: \(reply["workflows"]?.intValue ?? 0) workflow(s), \(reply["definition_errors"]?.intValue ?? 0) file(s) with errors")
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

extension JSONValue {
    var doubleValue: Double? {
        switch self {
        case .double(let number): return number
        case .int(let number): return Double(number)
        default: return nil
        }
    }
}
