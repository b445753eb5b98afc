// DefinitionWatcher.swift: inotify on the workflows directory, for hot reload.
//
// Any file written, renamed in or out, or deleted there means "reload soon". Editors
// write several events per save (temp file, rename, chmod), so the engine debounces:
// it reloads once, shortly after the last event. A queue overflow also means reload.

#if canImport(Glibc)
import Glibc
#endif

/// Watches one directory for definition changes. Loop thread only.
final class DefinitionWatcher {
    let descriptor: Int32

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
                if mask & UInt32(IN_Q_OVERFLOW) != 0 || DefinitionStore.isDefinitionFileName(name) { changed = true }
            }
        }
    }
}
