// DefinitionWatcher.swift: inotify on the workflows directory, for hot reload.
//
// Any file written, renamed in or out, or deleted there means "reload". The events come
// after the fact (IN_CLOSE_WRITE once the writer closed, IN_MOVED_TO once renamed in),
// so the engine reloads at the first event and coalesces the rest of a burst (editors
// write several events per save) into one reload shortly after the last event. The
// watcher remembers which definition files the events named, so that reload can
// re-read just those; a queue overflow means "anything may have changed".

#if canImport(Glibc)
import Glibc
#endif

/// Watches one directory for definition changes. Loop thread only.
final class DefinitionWatcher {
    let descriptor: Int32
    /// Definition file names the drained events named since `takeChangedNames`; nil
    /// after a queue overflow (every file must be looked at).
    private var changedNames: Set<String>? = []

    init(directory: String) throws(SystemError) {
        descriptor = try systemCall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
        let mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR
        do {
            try systemCall("inotify_add_watch", directory) { inotify_add_watch(descriptor, directory, UInt32(mask)) }
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Drains pending events; true when any of them concerns a definition file (or
    /// events were lost).
    func drainChanges() -> Bool {
        var changed = false
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return changed }
            var offset = 0
            while offset + 16 <= count {
                let (mask, nameLength) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let name = String(decoding: buffer[(offset + 16)..<(offset + 16 + nameLength)].prefix(while: { $0 != 0 }), as: UTF8.self)
                offset += 16 + nameLength
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    changed = true
                    changedNames = nil
                } else if DefinitionStore.isDefinitionFileName(name) {
                    changed = true
                    changedNames?.insert(name)
                }
            }
        }
    }

    /// Whether events named a definition file (or overflowed) since `takeChangedNames`.
    var hasChanges: Bool {
        changedNames.map { !$0.isEmpty } ?? true
    }

    /// The file names changed since the last call (nil: unknown, look at all), and
    /// starts collecting afresh.
    func takeChangedNames() -> Set<String>? {
        defer { changedNames = [] }
        return changedNames
    }
}
