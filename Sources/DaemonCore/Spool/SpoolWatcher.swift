// SpoolWatcher.swift: inotify on incoming/ and each incoming/<workflow>/.
//
// A file is ready when it is closed after writing (IN_CLOSE_WRITE) or renamed in
// (IN_MOVED_TO); anything that is not a regular file is reported when created. A new directory under incoming/ is watched as it appears. An event
// queue overflow (IN_Q_OVERFLOW) asks the engine for a full rescan, as does any watch
// it could not add. The watcher only reports names; the engine decides what to do.

#if canImport(Glibc)
import Glibc
#endif

/// What the watcher saw.
enum SpoolEvent: Equatable {
    /// A file in incoming/<workflow>/ is ready.
    case fileReady(workflow: String, name: String)
    /// A directory appeared under incoming/.
    case workflowDirectoryAppeared(String)
    /// Events were lost: rescan everything.
    case rescanNeeded
}

/// inotify watches over the spool's incoming tree. Loop thread only.
final class SpoolWatcher {
    let descriptor: Int32
    private let spool: SpoolDirectory
    private var workflowByWatch: [Int32: String] = [:]
    private var watchByWorkflow: [String: Int32] = [:]
    private var incomingWatch: Int32 = -1

    init(spool: SpoolDirectory) throws(SystemError) {
        self.spool = spool
        descriptor = try systemCall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
        incomingWatch = try systemCall("inotify_add_watch", spool.incoming) {
            inotify_add_watch(descriptor, spool.incoming, UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR))
        }
    }

    deinit { close(descriptor) }

    /// Watches incoming/<workflow>/ (idempotent).
    func watch(workflow: String) throws(SystemError) {
        guard watchByWorkflow[workflow] == nil else { return }
        let path = spool.incoming(workflow)
        let watch = try systemCall("inotify_add_watch", path) {
            inotify_add_watch(descriptor, path, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW))
        }
        workflowByWatch[watch] = workflow
        watchByWorkflow[workflow] = watch
    }

    /// Reads every pending inotify event.
    func readEvents() -> [SpoolEvent] {
        var events: [SpoolEvent] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                break  // EAGAIN: drained
            }
            if count == 0 { break }
            var offset = 0
            while offset + 16 <= count {
                let (watch, mask, nameLength) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + nameLength)].prefix(while: { $0 != 0 })
                let name = String(decoding: nameBytes, as: UTF8.self)
                offset += 16 + nameLength
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    events.append(.rescanNeeded)
                } else if mask & UInt32(IN_IGNORED) != 0 {
                    if let workflow = workflowByWatch.removeValue(forKey: watch) { watchByWorkflow[workflow] = nil }
                } else if watch == incomingWatch {
                    if mask & UInt32(IN_ISDIR) != 0 { events.append(.workflowDirectoryAppeared(name)) }
                } else if let workflow = workflowByWatch[watch], !name.isEmpty {
                    // A regular file is ready when closed or renamed in; anything else
                    // (symlink, FIFO, directory) never closes a write, so report it at creation.
                    let created = mask & UInt32(IN_CREATE) != 0
                    if !created || (try? FileSystem.status(spool.incoming(workflow) + "/" + name))?.kind != .regular {
                        events.append(.fileReady(workflow: workflow, name: name))
                    }
                }
            }
        }
        return events
    }
}
