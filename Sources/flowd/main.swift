// flowd: the workflow daemon. Parses the command line, builds the Daemon, runs it, and
// maps failures to exit statuses (0 clean stop, 1 failure, 2 usage). A failure to
// start is also told to systemd (STATUS=), so `systemctl status flowd` shows why.

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage: flowd [--root DIR]

    Runs the flowd workflow daemon in the foreground (under systemd: Type=notify,
    see flowd(8)).

      --root DIR   keep everything under DIR (DIR/etc/flowd, DIR/spool, DIR/state,
                   DIR/run), create what is missing and run unprivileged
      --version    print the version and exit
      --help       print this help and exit
    """

/// Writes to standard error (fd 2) directly; Swift 6 forbids the C `stderr` global.
func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(2, &bytes, bytes.count)
}

func fail(_ message: String, status: Int32) -> Never {
    writeError("flowd: \(message)\n")
    exit(status)
}

var arguments = CommandLine.arguments.dropFirst()
var root: String?
while let argument = arguments.popFirst() {
    switch argument {
    case "--root":
        guard let value = arguments.popFirst(), !value.isEmpty else { fail("--root needs a directory\n\n\(usage)", status: 2) }
        root = value
    case "--version":
        print("flowd \(FlowdVersion.current)")
        exit(0)
    case "--help", "-h":
        print(usage)
        exit(0)
    default:
        fail("unknown argument \"\(argument)\"\n\n\(usage)", status: 2)
    }
}

let daemon: Daemon
if let root {
    daemon = Daemon(paths: .root(root), createLayout: true)
} else {
    daemon = Daemon(paths: .system, createLayout: false)
}
do {
    try daemon.run()
} catch {
    SystemdNotifier().status("failed: \(error)")
    fail("\(error)", status: 1)
}
