// Commands.swift: flowadm's verbs. Each speaks io.flowd.Control and formats the reply;
// no engine logic lives here. `validate` works offline with the daemon's own loader.

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

/// What every verb gets: the parsed global options and its own arguments.
struct Invocation {
    var socketPath: String
    var json: Bool
    var arguments: [String]

    func client() throws -> VarlinkClient { try VarlinkClient(socketPath: socketPath) }

    func call(_ method: String, _ parameters: [String: JSONValue] = [:]) throws -> [String: JSONValue] {
        try client().call("io.flowd.Control." + method, parameters)
    }

    /// Prints `value` as stable JSON (one document, pretty).
    func printJSON(_ value: JSONValue) {
        print(value.serialized(pretty: true))
    }
}

/// A usage problem: exit status 2.
struct UsageError: Error { var message: String }
/// A plain failure with a message: exit status 1 (or the given one).
struct CommandFailure: Error { var message: String; var status: Int32 = 1 }

struct Verb: Sendable {
    var name: String
    var synopsis: String
    var summary: String
    var run: @Sendable (Invocation) throws -> Void
}

enum Commands {
    static let verbs: [Verb] = [
        Verb(name: "status", synopsis: "status", summary: "the daemon's state and run counts", run: status),
        Verb(name: "workflows", synopsis: "workflows", summary: "loaded workflows and definition errors", run: workflows),
        Verb(name: "workflow", synopsis: "workflow NAME", summary: "one workflow and its versions", run: ObserveCommands.workflow),
        Verb(name: "runs", synopsis: "runs [--workflow W] [--status S] [--since T] [--limit N]", summary: "recent runs, newest first", run: runs),
        Verb(name: "show", synopsis: "show RUN", summary: "a run's steps, attempts, exit codes and output", run: show),
        Verb(name: "logs", synopsis: "logs RUN [-f]", summary: "a run's step output (-f: until it ends)", run: ObserveCommands.logs),
        Verb(name: "watch", synopsis: "watch [--workflow W] [--run RUN]", summary: "live events", run: ObserveCommands.watch),
        Verb(name: "stats", synopsis: "stats [WORKFLOW] [--last N]", summary: "success rate, durations, failing steps", run: ObserveCommands.stats),
        Verb(name: "metrics", synopsis: "metrics", summary: "Prometheus text format", run: ObserveCommands.metrics),
        Verb(name: "spool", synopsis: "spool", summary: "pending, held and rejected spool files", run: ObserveCommands.spool),
        Verb(name: "trigger", synopsis: "trigger WORKFLOW [--payload JSON | --file F] [--wait]", summary: "start a run by hand", run: ChangeCommands.trigger),
        Verb(name: "cancel", synopsis: "cancel RUN", summary: "stop a run (on_cancel runs)", run: ChangeCommands.cancel),
        Verb(name: "skip", synopsis: "skip RUN STEP", summary: "an interrupted step counts as succeeded", run: ChangeCommands.skip),
        Verb(name: "pause", synopsis: "pause WORKFLOW | pause RUN [--kill]", summary: "stop new runs / stop a run at its next step", run: ChangeCommands.pause),
        Verb(name: "resume", synopsis: "resume WORKFLOW | resume RUN [--set vars.x=V] [--set steps.S.input.K=V]",
             summary: "undo pause (a run may get new vars, or inputs for steps not started)", run: ChangeCommands.resume),
        Verb(name: "replay", synopsis: "replay RUN [--from STEP] [--set PATH=V] [--current] [--wait]", summary: "a new run from a recorded one", run: ChangeCommands.replay),
        Verb(name: "diff", synopsis: "diff RUN RUN", summary: "what differs between two runs", run: ChangeCommands.diff),
        Verb(name: "prompts", synopsis: "prompts", summary: "approval steps waiting for an answer", run: ChangeCommands.prompts),
        Verb(name: "approve", synopsis: "approve RUN [STEP] [--field k=v]", summary: "answer an approval step: yes", run: ChangeCommands.approve),
        Verb(name: "reject", synopsis: "reject RUN [STEP] [--field k=v]", summary: "answer an approval step: no", run: ChangeCommands.reject),
        Verb(name: "hold", synopsis: "hold WORKFLOW/FILE", summary: "set a waiting spool file aside", run: ChangeCommands.spoolFile("hold")),
        Verb(name: "release", synopsis: "release WORKFLOW/FILE", summary: "put a held file back in incoming/", run: ChangeCommands.spoolFile("release")),
        Verb(name: "requeue", synopsis: "requeue WORKFLOW/FILE", summary: "give a rejected file another chance", run: ChangeCommands.spoolFile("requeue")),
        Verb(name: "delete", synopsis: "delete WORKFLOW/FILE", summary: "remove a held or rejected file", run: ChangeCommands.spoolFile("delete")),
        Verb(name: "connectors", synopsis: "connectors", summary: "connector actions, inputs and credentials (present or not)", run: connectors),
        Verb(name: "reload", synopsis: "reload", summary: "re-read workflow definitions (admins)", run: ObserveCommands.reload),
        Verb(name: "validate", synopsis: "validate FILE...", summary: "check workflow files offline (no daemon needed)", run: validate),
    ]

    static func status(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "status takes no arguments") }
        let reply = try invocation.call("GetStatus")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        print("""
            flowd \(reply["version"]?.stringValue ?? "?") (pid \(reply["pid"]?.intValue ?? 0)), \(reply["phase"]?.stringValue ?? "?") since \(Output.localTime(reply["started_at"]))
            runs:      \(reply["running"]?.intValue ?? 0) running, \(reply["queued"]?.intValue ?? 0) queued, \(reply["waiting"]?.intValue ?? 0) waiting
            workers:   \(reply["busy_workers"]?.intValue ?? 0) of \(reply["workers"]?.intValue ?? 0) busy
            workflows: \(reply["workflows"]?.intValue ?? 0) loaded, \(reply["definition_errors"]?.intValue ?? 0) file(s) with errors
            journal:   \(journalLine(reply["journal"]))
            """)
    }

    /// "writable", or "NOT WRITABLE since <local time>: <error> (N failed commits, retrying)".
    static func journalLine(_ journal: JSONValue?) -> String {
        guard let journal, journal["writable"]?.boolValue == false else { return "writable" }
        let retries = journal["retries"]?.intValue ?? 0
        return "NOT WRITABLE since \(Output.localTime(journal["since"])): \(journal["error"]?.stringValue ?? "unknown error")"
            + " (\(retries) failed commit\(retries == 1 ? "" : "s"), retrying; no new runs are taken)"
    }

    static func workflows(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "workflows takes no arguments") }
        let reply = try invocation.call("ListWorkflows")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let rows = (reply["workflows"]?.arrayValue ?? []).map { workflow -> [String] in
            [workflow["name"]?.stringValue ?? "",
             String((workflow["version"]?.stringValue ?? "").prefix(12)),
             String(workflow["steps"]?.intValue ?? 0),
             (workflow["triggers"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
             Output.clipped(workflow["description"]?.stringValue ?? "", 36)]
        }
        print(rows.isEmpty ? "no workflows loaded" : Output.table(["NAME", "VERSION", "STEPS", "TRIGGERS", "DESCRIPTION"], rows))
        for problem in reply["errors"]?.arrayValue ?? [] {
            print("\nerrors in \(problem["path"]?.stringValue ?? "?") (not loaded, or the last good version stays in force):")
            for error in problem["errors"]?.arrayValue ?? [] { print("  \(error.stringValue ?? "")") }
        }
    }

    static func connectors(_ invocation: Invocation) throws {
        guard invocation.arguments.isEmpty else { throw UsageError(message: "connectors takes no arguments") }
        let reply = try invocation.call("ListConnectors")
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let connectors = reply["connectors"]?.arrayValue ?? []
        if connectors.isEmpty { print("no connectors loaded") }
        for connector in connectors {
            let description = connector["description"]?.stringValue.map { ": \($0)" } ?? ""
            print("\(connector["name"]?.stringValue ?? "?")\(description)  (\(connector["path"]?.stringValue ?? ""))")
            for action in connector["actions"]?.arrayValue ?? [] {
                print("  \(connector["name"]?.stringValue ?? "?")/\(action["name"]?.stringValue ?? "?")  \(action["kind"]?.stringValue ?? "")"
                      + (action["description"]?.stringValue.map { "  \($0)" } ?? ""))
                let inputs = (action["inputs"]?.arrayValue ?? []).map { input -> String in
                    let name = input["name"]?.stringValue ?? "?"
                    let type = input["type"]?.stringValue ?? "?"
                    if input["required"]?.boolValue == true { return "\(name) (\(type), required)" }
                    if let value = input["default"], value != .null { return "\(name) (\(type), default \(value.serialized()))" }
                    return "\(name) (\(type))"
                }
                print("    inputs:      " + (inputs.isEmpty ? "none" : inputs.joined(separator: ", ")))
                let credentials = (action["credentials"]?.arrayValue ?? []).map { credential -> String in
                    let name = credential["name"]?.stringValue ?? "?"
                    let state = credential["present"]?.boolValue == true ? Output.status("present")
                        : (credential["required"]?.boolValue == true ? Output.status("missing") : "not loaded")
                    return "\(name) \(state)" + (credential["required"]?.boolValue == true ? "" : " (optional)")
                }
                print("    credentials: " + (credentials.isEmpty ? "none" : credentials.joined(separator: ", ")))
            }
        }
        for problem in reply["errors"]?.arrayValue ?? [] {
            print("\nerrors in \(problem["path"]?.stringValue ?? "?") (not loaded):")
            for error in problem["errors"]?.arrayValue ?? [] { print("  \(error.stringValue ?? "")") }
        }
    }

    static func runs(_ invocation: Invocation) throws {
        var parameters: [String: JSONValue] = [:]
        var arguments = invocation.arguments[...]
        while let option = arguments.popFirst() {
            guard let value = arguments.popFirst() else { throw UsageError(message: "\(option) needs a value") }
            switch option {
            case "--workflow": parameters["workflow"] = .string(value)
            case "--status": parameters["status"] = .string(value)
            case "--since":
                guard let since = TimeArgument.parse(value) else {
                    throw UsageError(message: "--since takes a duration ago (30m, 2h, 1d), a date (2026-11-22), a local time (\"2026-11-22 04:00\") or RFC 3339 UTC")
                }
                parameters["since"] = .string(WallClock.rfc3339(microseconds: since))
            case "--limit":
                guard let limit = Int64(value), limit > 0 else { throw UsageError(message: "--limit needs a positive number") }
                parameters["limit"] = .int(limit)
            default: throw UsageError(message: "unknown option \(option) for runs")
            }
        }
        let reply = try invocation.call("ListRuns", parameters)
        if invocation.json { return invocation.printJSON(.object(reply)) }
        let rows = (reply["runs"]?.arrayValue ?? []).map { run -> [String] in
            [String(run["id"]?.intValue ?? 0),
             run["workflow"]?.stringValue ?? "",
             Output.status(run["status"]?.stringValue ?? ""),
             Output.localTime(run["created_at"]),
             Output.duration(run["duration_ms"]),
             Output.clipped(run["trigger"]?["name"]?.stringValue ?? run["trigger"]?["kind"]?.stringValue ?? "", 24)]
        }
        print(rows.isEmpty ? "no runs" : Output.table(["RUN", "WORKFLOW", "STATUS", "CREATED", "DURATION", "TRIGGER"], rows))
    }

    static func show(_ invocation: Invocation) throws {
        guard invocation.arguments.count == 1, let id = Int64(invocation.arguments[0]), id > 0 else {
            throw UsageError(message: "show needs one run number, e.g. flowadm show 12")
        }
        let reply = try invocation.call("GetRun", ["id": .int(id)])
        guard let run = reply["run"] else { throw CommandFailure(message: "the daemon sent no run") }
        if invocation.json { return invocation.printJSON(run) }
        print("run \(id) of \(run["workflow"]?.stringValue ?? "?"): \(Output.status(run["status"]?.stringValue ?? "?"))")
        print("  version:  \((run["version"]?.stringValue ?? "").prefix(12))")
        print("  trigger:  \(run["trigger"]?["kind"]?.stringValue ?? "?") \(run["trigger"]?["name"]?.stringValue ?? "")")
        print("  created:  \(Output.localTime(run["created_at"]))")
        print("  started:  \(Output.localTime(run["started_at"]))")
        print("  ended:    \(Output.localTime(run["ended_at"]))   duration \(Output.duration(run["duration_ms"]))")
        if let error = run["error"]?.stringValue { print("  error:    \(error)") }
        let attempts = run["attempts"]?.arrayValue ?? []
        if attempts.isEmpty { print("\nno step has started yet"); return }
        print("")
        print(Output.table(["STEP", "ATTEMPT", "STATUS", "EXIT", "DURATION", "STARTED"], attempts.map { attempt in
            [attempt["step"]?.stringValue ?? "", String(attempt["attempt"]?.intValue ?? 0),
             Output.status(attempt["status"]?.stringValue ?? ""),
             attempt["exit_code"]?.intValue.map(String.init) ?? attempt["signal"]?.intValue.map { "sig \($0)" } ?? "-",
             Output.duration(attempt["duration_ms"]), Output.localTime(attempt["started_at"])]
        }))
        for attempt in attempts {
            let label = "\(attempt["step"]?.stringValue ?? "") (attempt \(attempt["attempt"]?.intValue ?? 0))"
            for stream in ["stdout", "stderr"] {
                guard let text = attempt[stream]?.stringValue, !text.isEmpty else { continue }
                let total = attempt[stream + "_bytes"]?.intValue ?? 0
                let note = total > Int64(text.utf8.count) ? " (last \(text.utf8.count) of \(total) bytes)" : ""
                print("\n\(label) \(stream)\(note):")
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
                    print("  | \(line)")
                }
            }
            if let error = attempt["error"]?.stringValue { print("\n\(label): \(error)") }
        }
    }

    /// Checks each file with the daemon's own loader; no daemon needed. Every error of
    /// every file is printed; on success a summary with each schedule's next 3 fires.
    static func validate(_ invocation: Invocation) throws {
        guard !invocation.arguments.isEmpty else { throw UsageError(message: "validate needs at least one file") }
        var failed = false
        var results: [JSONValue] = []
        let now = WallClock.nowMicroseconds() / 1_000_000
        // uses: steps are checked against the installed manifests, when there are any.
        let catalog = ConnectorCatalog.load(directories: ["/usr/share/flowd/connectors", DaemonPaths.system.connectorsDirectory])
        if catalog.manifests.isEmpty {
            writeError("note: no connector manifests in /usr/share/flowd/connectors or /etc/flowd/connectors; uses: steps are not checked\n")
        }
        for path in invocation.arguments {
            do {
                let definition = try WorkflowLoader.load(path: path, connectors: catalog.manifests.isEmpty ? nil : catalog)
                guard case .object(var summary) = definition.summaryJSON(now: now) else { continue }
                summary["file"] = .string(path)
                summary["valid"] = true
                summary["errors"] = []
                results.append(.object(summary))
                if !invocation.json { printSummary(path: path, definition: definition, summary: summary) }
            } catch {
                failed = true
                results.append(.object(["file": .string(path), "valid": false, "name": .null, "version": .null,
                                        "triggers": .null, "steps": [], "next_fires": [],
                                        "errors": .array(error.errors.map { .string($0.description) })]))
                if !invocation.json { for problem in error.errors { print(problem.description) } }
            }
        }
        if invocation.json { invocation.printJSON(.object(["files": .array(results)])) }
        if failed { throw CommandFailure(message: "", status: 1) }
    }

    private static func printSummary(path: String, definition: WorkflowDefinition, summary: [String: JSONValue]) {
        print("\(path): ok: workflow \(definition.name), \(definition.steps.count) step(s), version \(definition.version.prefix(12))")
        var triggers: [String] = []
        if let spool = definition.triggers.spool { triggers.append("spool (\(spool.format.rawValue))") }
        if !definition.triggers.schedules.isEmpty { triggers.append("schedule") }
        if definition.triggers.manual { triggers.append("manual") }
        if let workflow = definition.triggers.workflow {
            triggers.append("after workflow \(workflow.name) (\(workflow.statuses.map(\.rawValue).joined(separator: ", ")))")
        }
        print("  triggers: \(triggers.isEmpty ? "none" : triggers.joined(separator: ", "))")
        for schedule in summary["triggers"]?["schedules"]?.arrayValue ?? [] {
            let fires = (schedule["next_fires"]?.arrayValue ?? []).map { Output.localTime($0) }
            let catchUp = schedule["catch_up"]?.boolValue == true ? ", catch_up" : ""
            print("  schedule \(schedule["cron"]?.stringValue ?? "")\(catchUp): next \(fires.isEmpty ? "none within 5 years" : fires.joined(separator: ", "))")
        }
        print("  steps: \(definition.steps.map(\.id).joined(separator: ", "))")
    }
}
