// ControlService.swift: the io.flowd.Control methods, one closed set handled in one place.
//
// Runs on the Varlink server's thread. Every method names the access it needs; a caller
// without it gets io.flowd.Control.PermissionDenied. Reads come from the journal through
// this service's own read-only connection, from the engine's published snapshot, or from
// the spool directories; changes go to the engine through its loop (EventLoop.execute)
// and are journaled as run events with the caller's uid and pid. Bad parameters get
// org.varlink.service.InvalidParameter naming the parameter.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the control service needs from the rest of the daemon.
struct ControlDependencies: Sendable {
    var journalPath: String
    var statusBoard: EngineStatusBoard
    var events: EventHub
    var engine: Engine
    var journal: RunJournal
    var logger: DaemonLogger
    var paths: DaemonPaths
    var authorizer: ControlAuthorizer
}

/// The handler of io.flowd.Control. Its JournalReader is used only on the server thread.
final class ControlService: VarlinkInterfaceHandler, @unchecked Sendable {
    let interfaceName = ControlInterface.name
    let interfaceDescription = ControlInterface.description
    let reader: JournalReader
    let dependencies: ControlDependencies
    static let maximumListLimit = 10_000

    struct InvalidParameter: Error { var name: String }
    struct NotFound: Error { var kind: String; var name: String }

    typealias Method = @Sendable (ControlService) -> (VarlinkCall, PeerCredentials, VarlinkReplySink) throws -> Void

    /// Every method with the access it needs.
    static let methods: [String: (access: ControlAccess, run: Method)] = [
        "GetStatus": (.read, { $0.getStatus }),
        "ListWorkflows": (.read, { $0.listWorkflows }),
        "ListConnectors": (.read, { $0.listConnectors }),
        "GetWorkflow": (.read, { $0.getWorkflow }),
        "ListRuns": (.read, { $0.listRuns }),
        "GetRun": (.read, { $0.getRun }),
        "GetLogs": (.read, { $0.getLogs }),
        "Watch": (.read, { $0.watch }),
        "GetStats": (.read, { $0.getStats }),
        "GetMetrics": (.read, { $0.getMetrics }),
        "ListSpool": (.read, { $0.listSpool }),
        "Reload": (.admin, { $0.reload }),
        // Checked per workflow: admins, or members of the workflow's owners groups.
        "Trigger": (.none, { $0.trigger }),
        "CancelRun": (.none, { $0.cancelRun }),
        "PauseWorkflow": (.none, { $0.pauseOrResumeWorkflow }),
        "ResumeWorkflow": (.none, { $0.pauseOrResumeWorkflow }),
        "PauseRun": (.none, { $0.pauseOrResumeRun }),
        "ResumeRun": (.none, { $0.pauseOrResumeRun }),
        "ListPrompts": (.read, { $0.listPrompts }),
        "Approve": (.none, { $0.answer }),
        "Replay": (.none, { $0.replay }),
        "Diff": (.read, { $0.diff }),
        "ManageSpoolFile": (.admin, { $0.manageSpoolFile }),
        "SkipStep": (.none, { $0.skipStep }),
        "Reject": (.none, { $0.answer }),
    ]

    init(_ dependencies: ControlDependencies) throws(SQLiteError) {
        reader = try JournalReader(path: dependencies.journalPath)
        self.dependencies = dependencies
    }

    func handle(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) {
        guard let method = Self.methods[call.methodName] else {
            reply.error("org.varlink.service.MethodNotFound", ["method": .string(call.method)])
            return
        }
        guard dependencies.authorizer.access(for: peer) >= method.access else {
            reply.error("io.flowd.Control.PermissionDenied", [
                "message": .string("uid \(peer.uid) may not call \(call.methodName); ask an admin of flowd (group \(adminGroupName))"),
            ])
            return
        }
        do {
            try method.run(self)(call, peer, reply)
        } catch let error as InvalidParameter {
            reply.error("org.varlink.service.InvalidParameter", ["parameter": .string(error.name)])
        } catch let error as NotFound {
            reply.error("io.flowd.Control.NotFound", ["kind": .string(error.kind), "name": .string(error.name)])
        } catch {
            reply.error("io.flowd.Control.JournalError", ["message": .string("\(error)")])
        }
    }

    private var adminGroupName: String { dependencies.engine.configuration.adminGroup }

    // MARK: Parameters

    func optionalString(_ parameters: [String: JSONValue], _ name: String) throws -> String? {
        switch parameters[name] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw InvalidParameter(name: name)
        }
    }

    func optionalPositiveInteger(_ parameters: [String: JSONValue], _ name: String) throws -> Int? {
        guard let value = parameters[name], value != .null else { return nil }
        guard let number = value.intValue, number > 0 else { throw InvalidParameter(name: name) }
        return Int(min(number, Int64(Self.maximumListLimit)))
    }

    func requiredRunID(_ parameters: [String: JSONValue]) throws -> Int64 {
        guard let id = parameters["id"]?.intValue, id > 0 else { throw InvalidParameter(name: "id") }
        return id
    }

    // MARK: Changes

    /// Admins may act on every workflow; owners on theirs. Runs on the loop thread.
    func mayAct(_ peer: PeerCredentials, on definition: WorkflowDefinition?) -> Bool {
        if dependencies.authorizer.access(for: peer) == .admin { return true }
        guard let definition else { return false }
        return dependencies.authorizer.isOwner(peer, owners: definition.owners)
    }

    func denied(_ reply: VarlinkReplySink, _ peer: PeerCredentials, _ what: String) {
        reply.error("io.flowd.Control.PermissionDenied", [
            "message": .string("uid \(peer.uid) may not \(what); ask an admin of flowd or an owner of the workflow"),
        ])
    }

    private func trigger(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard let workflow = try optionalString(call.parameters, "workflow") else { throw InvalidParameter(name: "workflow") }
        let payload = call.parameters["payload"] ?? .object([:])
        let wait = call.parameters["wait"]?.boolValue ?? false
        let engine = dependencies.engine
        let journal = dependencies.journal
        let logger = dependencies.logger
        engine.loop.execute { [self] in
            let definition = engine.definitions.workflows[workflow]
            guard mayAct(peer, on: definition) else { return denied(reply, peer, "trigger \(workflow)") }
            guard let definition else {
                return reply.error("io.flowd.Control.NotFound", ["kind": "workflow", "name": .string(workflow)])
            }
            // `on.manual: false`: only admins may still start a run by hand (SPEC 2).
            guard definition.manualTrigger || dependencies.authorizer.access(for: peer) == .admin else {
                return reply.error("io.flowd.Control.PermissionDenied", [
                    "message": .string("workflow \(workflow) does not take manual triggers (on.manual is false); only an admin of flowd may start it by hand"),
                ])
            }
            if let refusal = engine.journalRefusal {
                return reply.error("io.flowd.Control.NotAccepting", ["message": .string(refusal)])
            }
            guard let runID = engine.triggerManually(workflow: definition.name, payload: payload, byUID: peer.uid) else {
                return reply.error("io.flowd.Control.NotAccepting", ["message": .string("flowd is stopping; no new runs")])
            }
            journal.submit([.event(RunEvent(runID: runID, workflow: workflow, kind: "trigger", uid: peer.uid, pid: peer.pid,
                                            details: ["payload": payload]))])
            logger.log(.notice, "run \(runID) of \(workflow) triggered by uid \(peer.uid) (pid \(peer.pid))", id: .adminAction,
                       fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": workflow, "FLOWD_UID": "\(peer.uid)"])
            if wait {
                engine.runWaiters[runID, default: []].append { status in reply.reply(["run": .int(runID), "status": .string(status)]) }
            } else {
                reply.reply(["run": .int(runID), "status": "queued"])
            }
        }
    }

    /// Runs `change` on the loop for `workflow`, if the caller may act on it, journals it
    /// as a run event and replies (an empty reply, or InvalidState with the engine's text).
    private func act(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink, workflow: @escaping @Sendable (Engine) -> String?,
                     runID: Int64?, kind: String, details: JSONValue, change: @escaping @Sendable (Engine) -> String?) {
        let engine = dependencies.engine
        let journal = dependencies.journal
        let logger = dependencies.logger
        engine.loop.execute { [self] in
            let name = workflow(engine)
            guard mayAct(peer, on: name.flatMap { engine.definitions.workflows[$0] }) else { return denied(reply, peer, kind.replacingOccurrences(of: "_", with: " ")) }
            if let problem = change(engine) {
                return reply.error("io.flowd.Control.InvalidState", ["message": .string(problem)])
            }
            journal.submit([.event(RunEvent(runID: runID, workflow: name, kind: kind, uid: peer.uid, pid: peer.pid, details: details))])
            logger.log(.notice, "\(kind.replacingOccurrences(of: "_", with: " ")) \(runID.map { "run \($0)" } ?? name ?? "") by uid \(peer.uid) (pid \(peer.pid))",
                       id: .adminAction, fields: ["FLOWD_WORKFLOW": name ?? "", "FLOWD_RUN": runID.map { "\($0)" } ?? "", "FLOWD_UID": "\(peer.uid)"])
            reply.reply([:])
        }
    }

    private func pauseOrResumeWorkflow(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard let name = try optionalString(call.parameters, "name") else { throw InvalidParameter(name: "name") }
        let pause = call.methodName == "PauseWorkflow"
        act(call, peer: peer, reply: reply, workflow: { _ in name }, runID: nil, kind: pause ? "pause_workflow" : "resume_workflow",
            details: .null) { engine in pause ? engine.pauseWorkflow(name) : engine.resumeWorkflow(name) }
    }

    private func pauseOrResumeRun(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let runID = try requiredRunID(call.parameters)
        let pause = call.methodName == "PauseRun"
        let kill = call.parameters["kill"]?.boolValue ?? false
        let changes = call.parameters["set"]?.objectValue ?? [:]
        if call.parameters["set"] != nil && call.parameters["set"]?.objectValue == nil && call.parameters["set"] != .null {
            throw InvalidParameter(name: "set")
        }
        act(call, peer: peer, reply: reply, workflow: { $0.runs[runID]?.definition.name }, runID: runID,
            kind: pause ? "pause_run" : "resume_run", details: pause ? ["kill": .bool(kill)] : ["set": .object(changes)]) { engine in
            pause ? engine.pauseRun(runID, kill: kill) : engine.resumeRun(runID, changes: changes)
        }
    }

    private func manageSpoolFile(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        guard let action = try optionalString(call.parameters, "action"), ["hold", "release", "requeue", "delete"].contains(action) else {
            throw InvalidParameter(name: "action")
        }
        guard let workflow = try optionalString(call.parameters, "workflow") else { throw InvalidParameter(name: "workflow") }
        guard let file = try optionalString(call.parameters, "file") else { throw InvalidParameter(name: "file") }
        act(call, peer: peer, reply: reply, workflow: { _ in workflow }, runID: nil, kind: "spool_" + action,
            details: ["file": .string(file)]) { engine in
            let problem = engine.manageSpoolFile(action: action, workflow: workflow, name: file)
            if problem == nil && (action == "release" || action == "requeue") { engine.rescanSpool() }
            return problem
        }
    }

    private func skipStep(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let runID = try requiredRunID(call.parameters)
        guard let step = try optionalString(call.parameters, "step") else { throw InvalidParameter(name: "step") }
        act(call, peer: peer, reply: reply, workflow: { $0.runs[runID]?.definition.name }, runID: runID, kind: "skip",
            details: ["step": .string(step)]) { engine in engine.skip(runID, stepID: step, byUID: peer.uid) }
    }

    private func listPrompts(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let engine = dependencies.engine
        engine.loop.execute { reply.reply(["prompts": .array(engine.prompts())]) }
    }

    private func answer(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let runID = try requiredRunID(call.parameters)
        let step = try optionalString(call.parameters, "step")
        let approve = call.methodName == "Approve"
        let fields = call.parameters["fields"]?.objectValue ?? [:]
        act(call, peer: peer, reply: reply, workflow: { $0.runs[runID]?.definition.name }, runID: runID,
            kind: approve ? "approve" : "reject", details: ["step": step.map(JSONValue.string) ?? .null, "fields": .object(fields)]) { engine in
            engine.answer(runID, stepID: step, approve: approve, fields: fields, byUID: peer.uid)
        }
    }

    private func cancelRun(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let runID = try requiredRunID(call.parameters)
        let recorded = try reader.run(id: runID)
        let engine = dependencies.engine
        let journal = dependencies.journal
        engine.loop.execute { [self] in
            guard let run = engine.runs[runID] else {
                guard let recorded else { return reply.error("io.flowd.Control.NotFound", ["kind": "run", "name": .string(String(runID))]) }
                return reply.error("io.flowd.Control.RunEnded", [
                    "message": .string("run \(runID) already ended (\(recorded["status"]?.stringValue ?? "?"))"),
                ])
            }
            guard mayAct(peer, on: run.definition) else { return denied(reply, peer, "cancel run \(runID)") }
            journal.submit([.event(RunEvent(runID: runID, workflow: run.definition.name, kind: "cancel", uid: peer.uid, pid: peer.pid))])
            dependencies.logger.log(.notice, "run \(runID) cancelled by uid \(peer.uid) (pid \(peer.pid))", id: .adminAction,
                                    fields: ["FLOWD_RUN": "\(runID)", "FLOWD_WORKFLOW": run.definition.name, "FLOWD_UID": "\(peer.uid)"])
            engine.runWaiters[runID, default: []].append { status in reply.reply(["run": .int(runID), "status": .string(status)]) }
            engine.stop(runID, reason: .cancelled(byUID: peer.uid))
        }
    }

    private func reload(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) throws {
        let engine = dependencies.engine
        dependencies.journal.submit([.event(RunEvent(kind: "reload", uid: peer.uid, pid: peer.pid))])
        dependencies.logger.log(.notice, "reload requested by uid \(peer.uid) (pid \(peer.pid))", id: .adminAction,
                                fields: ["FLOWD_UID": "\(peer.uid)", "FLOWD_PID": "\(peer.pid)"])
        engine.loop.execute {
            engine.reload()
            let snapshot = engine.statusBoard.current
            reply.reply(["workflows": .int(Int64(snapshot.workflows.count)),
                         "definition_errors": .int(Int64(snapshot.definitionErrors.count))])
        }
    }
}

/// flowd's version string.
public enum FlowdVersion {
    public static let current = "0.1.0"
}
