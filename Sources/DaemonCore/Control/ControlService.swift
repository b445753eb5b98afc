// ControlService.swift: the io.flowd.Control methods, one closed set handled in one place.
//
// Runs on the Varlink server's thread. Reads come from the journal through this
// service's own read-only connection, or from the engine's published snapshot; nothing
// here touches engine state directly (mutations will go through EventLoop.execute).
// Bad parameters get org.varlink.service.InvalidParameter naming the parameter.

#if canImport(Glibc)
import Glibc
#endif

/// The handler of io.flowd.Control. Its JournalReader is used only on the server thread.
final class ControlService: VarlinkInterfaceHandler, @unchecked Sendable {
    let interfaceName = ControlInterface.name
    let interfaceDescription = ControlInterface.description
    private let reader: JournalReader
    private let statusBoard: EngineStatusBoard
    static let maximumListLimit = 10_000

    init(journalPath: String, statusBoard: EngineStatusBoard) throws(SQLiteError) {
        reader = try JournalReader(path: journalPath)
        self.statusBoard = statusBoard
    }

    func handle(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) {
        do {
            switch call.methodName {
            case "GetStatus": reply.reply(status())
            case "ListWorkflows":
                let snapshot = statusBoard.current
                reply.reply(["workflows": .array(snapshot.workflows), "errors": .array(snapshot.definitionErrors)])
            case "ListRuns": reply.reply(try listRuns(call.parameters))
            case "GetRun": try getRun(call.parameters, reply: reply)
            default: reply.error("org.varlink.service.MethodNotFound", ["method": .string(call.method)])
            }
        } catch let error as InvalidParameter {
            reply.error("org.varlink.service.InvalidParameter", ["parameter": .string(error.name)])
        } catch {
            reply.error("io.flowd.Control.JournalError", ["message": .string("\(error)")])
        }
    }

    private struct InvalidParameter: Error { var name: String }

    private func status() -> [String: JSONValue] {
        let snapshot = statusBoard.current
        return [
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
        ]
    }

    private func optionalString(_ parameters: [String: JSONValue], _ name: String) throws -> String? {
        switch parameters[name] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw InvalidParameter(name: name)
        }
    }

    private func listRuns(_ parameters: [String: JSONValue]) throws -> [String: JSONValue] {
        var limit = 50
        if let value = parameters["limit"], value != .null {
            guard let number = value.intValue, number > 0 else { throw InvalidParameter(name: "limit") }
            limit = Int(min(number, Int64(Self.maximumListLimit)))
        }
        let runs = try reader.runs(workflow: optionalString(parameters, "workflow"),
                                   status: optionalString(parameters, "status"), limit: limit)
        return ["runs": .array(runs)]
    }

    private func getRun(_ parameters: [String: JSONValue], reply: VarlinkReplySink) throws {
        guard let id = parameters["id"]?.intValue else { throw InvalidParameter(name: "id") }
        guard let run = try reader.run(id: id) else {
            reply.error("io.flowd.Control.NotFound", ["kind": "run", "name": .string(String(id))])
            return
        }
        reply.reply(["run": run])
    }
}

/// flowd's version string.
public enum FlowdVersion {
    public static let current = "0.1.0"
}
