// LibSystemd.swift: the one file that imports CSystemd (libsystemd's sd-daemon and
// sd-journal). Everything else in flowd talks to systemd through these typed calls.
//
// libsystemd reports failure as a negative errno return value, never through errno;
// these wrappers pass that value up unchanged (or as nil) and let the caller decide.
// Only the non-variadic calls are used: Swift cannot import C variadic functions.
// No pointer leaves this file.

import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thin typed wrappers over the libsystemd calls flowd uses.
enum LibSystemd {
    /// The first descriptor systemd passes on socket activation (`SD_LISTEN_FDS_START`).
    static let firstListenDescriptor: Int32 = SD_LISTEN_FDS_START

    /// `sd_notify(0, state)`: 0 when `NOTIFY_SOCKET` is unset, positive when sent,
    /// a negative errno on failure. Leaves the environment alone.
    static func notify(_ state: String) -> Int32 {
        sd_notify(0, state)
    }

    /// `sd_journal_sendv` with one iovec per `NAME=value` field. Values may contain
    /// newlines and NUL bytes: the lengths are passed explicitly. Returns 0 on success
    /// or a negative errno (e.g. `-ENOENT` when journald's socket is absent).
    static func journalSend(_ fields: [String]) -> Int32 {
        precondition(!fields.isEmpty, "journalSend needs at least one field")
        let encoded = fields.map { Array($0.utf8) }
        let total = encoded.reduce(0) { $0 + $1.count }
        // One contiguous buffer holds every field; the iovecs point into it.
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var vectors = [iovec]()
        vectors.reserveCapacity(encoded.count)
        var offset = 0
        for field in encoded {
            let start = storage.baseAddress! + offset
            field.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
            }
            vectors.append(iovec(iov_base: start, iov_len: field.count))
            offset += field.count
        }
        return vectors.withUnsafeBufferPointer { buffer in
            sd_journal_sendv(buffer.baseAddress, Int32(buffer.count))
        }
    }

    /// `sd_listen_fds(1)`: the number of descriptors passed by socket activation
    /// (0 when none), or a negative errno. Unsets `LISTEN_*` so children don't see them.
    static func listenDescriptorCount() -> Int32 {
        sd_listen_fds(1)
    }

    /// `sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0)`: positive when `descriptor` is
    /// a listening AF_UNIX stream socket, 0 when it is not, a negative errno on failure.
    static func isListeningUnixStreamSocket(_ descriptor: Int32) -> Int32 {
        sd_is_socket_unix(descriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0)
    }

    /// `sd_watchdog_enabled(0, &usec)`: `WATCHDOG_USEC` in microseconds when the
    /// watchdog is enabled for this process, nil otherwise (or when the variables are
    /// malformed).
    static func watchdogMicroseconds() -> UInt64? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return microseconds
    }
}
