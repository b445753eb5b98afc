// flowadm: the administration client of flowd. Parses global options (accepted before
// or after the verb), runs the verb, maps failures to the exit statuses of SPEC
// section 8: 0 success, 1 failure, 2 usage, 3 not found, 4 permission denied,
// 69 daemon unreachable.

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage: flowadm [--socket PATH | --root DIR] [--json] VERB [ARGUMENTS]

    \(Commands.verbs.map { "  " + $0.synopsis.padding(48) + $0.summary }.joined(separator: "\n"))

    Global options (before or after the verb):
      --socket PATH   the control socket (default /run/flowd/control.sock, or $FLOWD_SOCKET)
      --root DIR      the daemon runs with --root DIR: use DIR/run/control.sock
      --json          machine-readable output (stable field names)
      --help          this help;  --version  the version
    """

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

/// Writes to standard error (fd 2) directly; Swift 6 forbids the C `stderr` global.
func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(2, &bytes, bytes.count)
}

func exitWith(_ message: String, _ status: Int32) -> Never {
    if !message.isEmpty { writeError("flowadm: \(message)\n") }
    exit(status)
}

var socketPath = getenv("FLOWD_SOCKET").map { String(cString: $0) } ?? DaemonPaths.system.controlSocketPath
var json = false
var verbName: String?
var verbArguments: [String] = []
var remaining = CommandLine.arguments.dropFirst()
while let argument = remaining.popFirst() {
    switch argument {
    case "--socket":
        guard let value = remaining.popFirst() else { exitWith("--socket needs a path", 2) }
        socketPath = value
    case "--root":
        guard let value = remaining.popFirst() else { exitWith("--root needs a directory", 2) }
        socketPath = DaemonPaths.root(value).controlSocketPath
    case "--json":
        json = true
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--version":
        print("flowadm \(FlowdVersion.current)")
        exit(0)
    default:
        if verbName == nil && !argument.hasPrefix("-") { verbName = argument } else { verbArguments.append(argument) }
    }
}

guard let verbName else { exitWith("no verb given\n\n\(usage)", 2) }
guard let verb = Commands.verbs.first(where: { $0.name == verbName }) else {
    exitWith("unknown verb \"\(verbName)\"\n\n\(usage)", 2)
}
do {
    try verb.run(Invocation(socketPath: socketPath, json: json, arguments: verbArguments))
} catch let error as UsageError {
    exitWith("\(error.message)\nusage: flowadm \(verb.synopsis)", 2)
} catch let error as CommandFailure {
    exitWith(error.message, error.status)
} catch let error as VarlinkClientError {
    switch error {
    case .unreachable:
        exitWith("\(error)", 69)
    case .remote(let name, let parameters):
        switch name {
        case "io.flowd.Control.NotFound":
            exitWith("no \(parameters["kind"]?.stringValue ?? "such thing") \(parameters["name"]?.stringValue ?? "")", 3)
        case "io.flowd.Control.PermissionDenied":
            exitWith("permission denied: \(parameters["message"]?.stringValue ?? "ask an admin of flowd")", 4)
        case "io.flowd.Control.RunEnded", "io.flowd.Control.NotAccepting", "io.flowd.Control.InvalidState":
            exitWith(parameters["message"]?.stringValue ?? name, 1)
        case "org.varlink.service.InvalidParameter":
            exitWith("invalid parameter \(parameters["parameter"]?.stringValue ?? "")", 2)
        default:
            exitWith("\(name): \(JSONValue.object(parameters).serialized())", 1)
        }
    default:
        exitWith("\(error)", 1)
    }
} catch {
    exitWith("\(error)", 1)
}
