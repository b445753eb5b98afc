// ControlQueries.swift: the read methods of io.flowd.Control.
//
// Each answers from the engine's snapshot, the journal (read-only connection) or the
// spool directories. Streaming methods (GetLogs with follow, Watch) send what is
// recorded first, then subscribe the reply sink to the engine's EventHub.

#if canImport(Glibc)
import Glibc
#endif

extension ControlService {
    func getStatus(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let snapshot = dependencies.statusBoard.current
        reply.reply([
            "version": .string(FlowdVersion.current),
            "pid": .int(Int64(getpid())),
            "phase": .string(snapshot.phase),
            "started_at": .string(WallClock.rfc3339(microseconds: snapshot.startedAt)),
            "workers": .int(Int64(snapshot.workers)),
            "busy_workers": .int(Int64(snapshot.busyWorkers)),
            "running": .int(Int64(snapshot.running)),
            "queued": .int(Int64(snapshot.queued)),
            "waiting": .int(Int64(snapshot.waiting)),
            "workflows": .int(Int64(snapshot.workflows.count)),
            "definition_errors": .int(Int64(snapshot.definitionErrors.count)),
            "journal": .object([
                "writable": .bool(snapshot.journal.isWritable),
                "since": snapshot.journal.notWritableSince.map { .string(WallClock.rfc3339(microseconds: $0)) } ?? .null,
                "error": snapshot.journal.error.map(JSONValue.string) ?? .null,
                "retries": .int(Int64(snapshot.journal.retries)),
            ]),
        ])
    }

    func listWorkflows(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let snapshot = dependencies.statusBoard.current
        reply.reply(["workflows": .array(snapshot.workflows), "errors": .array(snapshot.definitionErrors)])
    }

    func listConnectors(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let snapshot = dependencies.statusBoard.current
        reply.reply(["connectors": .array(snapshot.connectors), "errors": .array(snapshot.connectorErrors)])
    }

    func getWorkflow(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard let name = try optionalString(call.parameters, "name") else { throw InvalidParameter(name: "name") }
        let current = dependencies.statusBoard.current.workflows.first { $0["name"]?.stringValue == name }
        let versions = try reader.definitionVersions(workflow: name)
        guard current != nil || !versions.isEmpty else { throw NotFound(kind: "workflow", name: name) }
        reply.reply(["workflow": current ?? .null, "versions": .array(versions)])
    }

    func listRuns(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let parameters = call.parameters
        var since: Int64?
        if let text = try optionalString(parameters, "since") {
            guard let microseconds = WallClock.parseRFC3339(text) else { throw InvalidParameter(name: "since") }
            since = microseconds
        }
        let runs = try reader.runs(workflow: optionalString(parameters, "workflow"), status: optionalString(parameters, "status"),
                                   since: since, limit: optionalPositiveInteger(parameters, "limit") ?? 50)
        reply.reply(["runs": .array(runs)])
    }

    func getRun(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let id = try requiredRunID(call.parameters)
        guard let run = try reader.run(id: id) else { throw NotFound(kind: "run", name: String(id)) }
        reply.reply(["run": run])
    }

    /// Each attempt's output as one reply; with `follow` (and "more"), then every attempt
    /// that finishes until the run ends.
    func getLogs(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let id = try requiredRunID(call.parameters)
        let follow = call.parameters["follow"]?.boolValue ?? false
        if follow && !reply.wantsMore { throw InvalidParameter(name: "follow") }
        // Subscribe before reading, so nothing that finishes in between is missed.
        let subscription = follow ? dependencies.events.subscribe(runID: id, sink: reply) : nil
        guard let run = try reader.run(id: id) else {
            if let subscription { dependencies.events.unsubscribe(subscription) }
            throw NotFound(kind: "run", name: String(id))
        }
        let finished = ["succeeded", "failed", "cancelled", "interrupted"].contains(run["status"]?.stringValue ?? "")
        let entries = (run["attempts"]?.arrayValue ?? []).filter { $0["ended_at"] != .null }
        if !follow || finished {
            if let subscription { dependencies.events.unsubscribe(subscription) }
            reply.reply(["entries": .array(entries), "status": run["status"] ?? .null])
            return
        }
        reply.reply(["entries": .array(entries), "status": run["status"] ?? .null], continues: true)
    }

    /// Live engine events, optionally for one workflow or run; never ends by itself.
    func watch(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard reply.wantsMore else { throw InvalidParameter(name: "more") }
        let runID = call.parameters["run"]?.intValue
        dependencies.events.subscribe(runID: runID, workflow: try optionalString(call.parameters, "workflow"), sink: reply)
        reply.reply(["event": ["kind": "watching"]], continues: true)
    }

    func getStats(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let window = try optionalPositiveInteger(call.parameters, "last") ?? 1000
        let names: [String]
        if let workflow = try optionalString(call.parameters, "workflow") {
            names = [workflow]
        } else {
            names = dependencies.statusBoard.current.workflows.compactMap { $0["name"]?.stringValue }
        }
        var statistics: [JSONValue] = []
        for name in names {
            let summary = try reader.statistics(workflow: name, window: window)
            if summary["runs"]?.intValue == 0, call.parameters["workflow"] != nil,
               !dependencies.statusBoard.current.workflows.contains(where: { $0["name"]?.stringValue == name }) {
                throw NotFound(kind: "workflow", name: name)
            }
            statistics.append(summary)
        }
        reply.reply(["workflows": .array(statistics), "window": .int(Int64(window))])
    }

    func getMetrics(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let text = try MetricsExposition.render(snapshot: dependencies.statusBoard.current,
                                               runCounts: reader.runCounts(), spool: spoolCounts())
        reply.reply(["text": .string(text)])
    }

    func listSpool(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let spool = dependencies.paths.spoolDirectory
        let pending: [JSONValue] = spoolCounts().pending.sorted { $0.key < $1.key }.map {
            ["workflow": .string($0.key), "files": .int(Int64($0.value))]
        }
        var held: [JSONValue] = []
        for workflow in Self.names(in: spool + "/hold") {
            for name in Self.names(in: spool + "/hold/" + workflow) {
                held.append(["workflow": .string(workflow), "file": .string(name)])
            }
        }
        var rejected: [JSONValue] = []
        for workflow in Self.names(in: spool + "/rejected") {
            let directory = spool + "/rejected/" + workflow
            for name in Self.names(in: directory) where !name.hasSuffix(".reason") {
                let reason = (try? FileSystem.readRegularFile(directory + "/" + name + ".reason", maxBytes: 4096))
                    .map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewlines } ?? ""
                let modified = (try? FileSystem.status(directory + "/" + name))?.modificationTime ?? 0
                rejected.append(["workflow": .string(workflow), "file": .string(name), "reason": .string(reason),
                                 "rejected_at": .string(WallClock.rfc3339(microseconds: Int64(modified * 1_000_000)))])
            }
        }
        reply.reply(["pending": .array(pending), "held": .array(held), "rejected": .array(rejected)])
    }

    private func spoolCounts() -> (pending: [String: Int], rejected: Int) {
        let spool = dependencies.paths.spoolDirectory
        var pending: [String: Int] = [:]
        for workflow in Self.names(in: spool + "/incoming") {
            pending[workflow] = Self.names(in: spool + "/incoming/" + workflow).filter { !SpoolDirectory.isIgnoredName($0) }.count
        }
        let rejected = Self.names(in: spool + "/rejected").reduce(0) { total, workflow in
            total + Self.names(in: spool + "/rejected/" + workflow).filter { !$0.hasSuffix(".reason") }.count
        }
        return (pending, rejected)
    }

    static func names(in directory: String) -> [String] {
        ((try? FileSystem.entries(directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
