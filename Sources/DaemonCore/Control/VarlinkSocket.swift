// VarlinkSocket.swift: the raw libc calls of the control socket, in one place.
//
// AF_UNIX stream sockets (bind, listen, accept, connect), peer credentials via
// SO_PEERCRED, non-blocking send/receive, poll, and the eventfd that wakes the server
// loop. Every call goes through `systemCall`, so EINTR is retried and a failure throws a
// SystemError naming the call. Swift's Glibc module hides the _GNU_SOURCE parts of the C
// library (accept4, eventfd, struct ucred): the first two come from CFlowdShim, ucred
// is mirrored here.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CFlowdShim

/// Who is on the other end of a control connection, as the kernel saw it at connect time.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups, read from the "Groups:" line of /proc/<pid>/status; empty
    /// if that file could not be read (the process already exited, or /proc is hidden).
    public var supplementaryGroups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, supplementaryGroups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.supplementaryGroups = supplementaryGroups
    }
}

/// `struct ucred` from <sys/socket.h>: three 32-bit fields on every Linux ABI.
private struct KernelPeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// AF_UNIX stream socket calls used by the Varlink server and client.
enum UnixSocket {
    static let streamType = Int32(SOCK_STREAM.rawValue)
    /// SOCK_CLOEXEC and SOCK_NONBLOCK equal O_CLOEXEC and O_NONBLOCK on Linux.
    static let closeOnExec = Int32(SOCK_CLOEXEC.rawValue)
    static let nonBlocking = O_NONBLOCK

    /// Runs `body` with a sockaddr_un for `path`; throws ENAMETOOLONG when it does not fit.
    static func withAddress<Result>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> Result
    ) throws(SystemError) -> Result {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
            throw SystemError(call: "sockaddr_un", subject: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + pathBytes.count + 1)
        return try withUnsafePointer(to: &address) { (pointer) throws(SystemError) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (socketAddress) throws(SystemError) -> Result in
                try body(socketAddress, length)
            }
        }
    }

    /// A new AF_UNIX stream socket with close-on-exec set.
    static func makeSocket(nonBlocking: Bool) throws(SystemError) -> Int32 {
        let flags = streamType | closeOnExec | (nonBlocking ? self.nonBlocking : 0)
        return try systemCall("socket") { socket(AF_UNIX, flags, 0) }
    }

    /// Connects a new socket to `path`. A blocking socket waits while the listener's
    /// backlog is full; a non-blocking one fails with EAGAIN instead.
    static func connect(path: String, nonBlocking: Bool) throws(SystemError) -> Int32 {
        let descriptor = try makeSocket(nonBlocking: nonBlocking)
        do {
            _ = try withAddress(path) { (address, length) throws(SystemError) in
                try systemCall("connect", path) { Glibc.connect(descriptor, address, length) }
            }
            return descriptor
        } catch {
            closeDescriptor(descriptor)
            throw error
        }
    }

    /// Binds and listens on `path`, creating the socket file with the given umask.
    static func bindAndListen(path: String, umask newMask: mode_t, backlog: Int32) throws(SystemError) -> Int32 {
        let descriptor = try makeSocket(nonBlocking: true)
        do {
            try withAddress(path) { (address, length) throws(SystemError) in
                // umask is process-wide; this runs at startup before other threads create files.
                let previousMask = umask(newMask)
                defer { umask(previousMask) }
                try systemCall("bind", path) { bind(descriptor, address, length) }
            }
            try systemCall("listen", path) { listen(descriptor, backlog) }
            return descriptor
        } catch {
            closeDescriptor(descriptor)
            throw error
        }
    }

    /// Accepts one connection, non-blocking and close-on-exec; nil when none is waiting.
    static func accept(listener: Int32) throws(SystemError) -> Int32? {
        do {
            return try systemCall("accept4") { flowd_accept(listener) }
        } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK || error.errno == ECONNABORTED {
            return nil
        }
    }

    /// The peer's pid, uid and gid (SO_PEERCRED) plus its supplementary groups.
    static func peerCredentials(_ descriptor: Int32) throws(SystemError) -> PeerCredentials {
        var raw = KernelPeerCredentials()
        var length = socklen_t(MemoryLayout<KernelPeerCredentials>.size)
        try systemCall("getsockopt(SO_PEERCRED)") {
            getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &raw, &length)
        }
        return PeerCredentials(
            pid: raw.pid, uid: raw.uid, gid: raw.gid, supplementaryGroups: supplementaryGroups(of: raw.pid))
    }

    /// The "Groups:" line of /proc/<pid>/status; empty when it cannot be read.
    static func supplementaryGroups(of pid: Int32) -> [UInt32] {
        guard pid > 0, let file = fopen("/proc/\(pid)/status", "re") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("Groups:") else { continue }
            return text.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
                .compactMap { UInt32($0) }
        }
        return []
    }

    static func setNonBlocking(_ descriptor: Int32) throws(SystemError) {
        let flags = try systemCall("fcntl(F_GETFL)") { fcntl(descriptor, F_GETFL) }
        try systemCall("fcntl(F_SETFL)") { fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Sends what the socket takes now, never raising SIGPIPE. Returns the bytes sent (0
    /// when the socket buffer is full).
    static func send(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int {
        do {
            return try systemCall("send") {
                bytes.withUnsafeBytes { raw in Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
            }
        } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
            return 0
        }
    }

    enum ReceiveResult {
        case bytes(ArraySlice<UInt8>)
        case wouldBlock
        case endOfStream
    }

    /// Receives up to `buffer.count` bytes into `buffer`.
    static func receive(_ descriptor: Int32, into buffer: inout [UInt8]) throws(SystemError) -> ReceiveResult {
        do {
            let count = try systemCall("recv") {
                buffer.withUnsafeMutableBytes { raw in recv(descriptor, raw.baseAddress, raw.count, 0) }
            }
            return count == 0 ? .endOfStream : .bytes(buffer[0..<count])
        } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
            return .wouldBlock
        }
    }

    /// Waits for events on `descriptors`; `timeoutMilliseconds` < 0 waits forever.
    static func poll(_ descriptors: inout [pollfd], timeoutMilliseconds: Int32) throws(SystemError) {
        try systemCall("poll") {
            descriptors.withUnsafeMutableBufferPointer { buffer in
                Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), timeoutMilliseconds)
            }
        }
    }

    /// Closes a descriptor this module owns; close errors other than EBADF are not
    /// actionable (the descriptor is gone either way) and are ignored.
    static func closeDescriptor(_ descriptor: Int32) {
        let result = Glibc.close(descriptor)
        precondition(result == 0 || errno != EBADF, "closing a descriptor flowd did not own")
    }
}

/// An eventfd used to wake a poll loop from other threads.
enum WakeEvent {
    static func make() throws(SystemError) -> Int32 {
        try systemCall("eventfd") { flowd_eventfd() }
    }

    /// Adds one to the counter; a full counter already means "wake up", so errors are moot.
    static func signal(_ descriptor: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(descriptor, $0.baseAddress, 8) }
    }

    /// Resets the counter to zero.
    static func drain(_ descriptor: Int32) {
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { read(descriptor, $0.baseAddress, 8) }
    }
}

/// Seconds on the monotonic clock, for timeouts.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
