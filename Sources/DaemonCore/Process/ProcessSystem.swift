// ProcessSystem.swift: the raw calls behind ProcessRunner (pipes, posix_spawn through
// CFlowdShim, pidfd, eventfd, poll, read, write, kill, waitpid). The only file of the
// Process folder that touches C pointers; none of them leave it.
//
// Calls that can fail for runtime reasons throw SystemError naming the call. Calls
// whose failure can only mean the target is already gone (kill → ESRCH, a write to
// a full eventfd) are not errors and return quietly.

import CFlowdShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One result of a non-blocking read.
enum ReadResult {
    case data(Int)
    case wouldBlock
    case endOfFile
}

/// One result of a non-blocking write.
enum WriteResult {
    case wrote(Int)
    case wouldBlock
    /// The reader went away (EPIPE) or the pipe broke otherwise.
    case closed
}

/// Process-related system calls, grouped.
enum ProcessSystem {
    /// A close-on-exec pipe; `nonBlockingEnd` (the one the daemon keeps) is also
    /// made non-blocking, the child's end stays blocking.
    static func makePipe(nonBlockingEnd: PipeEnd) throws(SystemError) -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [-1, -1]
        _ = try descriptors.withUnsafeMutableBufferPointer { (buffer) throws(SystemError) in
            try systemCall("pipe2") { flowd_pipe(buffer.baseAddress!) }
        }
        let ours = nonBlockingEnd == .read ? descriptors[0] : descriptors[1]
        do throws(SystemError) {
            let flags = try systemCall("fcntl", "F_GETFL") { fcntl(ours, F_GETFL) }
            try systemCall("fcntl", "F_SETFL") { fcntl(ours, F_SETFL, flags | O_NONBLOCK) }
        } catch {
            close(descriptors[0])
            close(descriptors[1])
            throw error
        }
        return (descriptors[0], descriptors[1])
    }

    enum PipeEnd { case read, write }

    /// Starts the child described by `spec` with the given descriptors as its
    /// stdin (nil: /dev/null), stdout and stderr. Returns its pid.
    static func spawn(
        _ spec: ProcessSpec, standardInput: Int32?, standardOutput: Int32, standardError: Int32
    ) throws(SystemError) -> Int32 {
        try validate([spec.executable] + spec.arguments)
        let argumentStrings = [spec.executable] + spec.arguments
        let argumentPointers = argumentStrings.map { strdup($0) } + [nil]
        var environmentPointers: [UnsafeMutablePointer<CChar>?] = []
        environmentPointers.reserveCapacity(spec.environment.count + 1)
        defer {
            argumentPointers.forEach { free($0) }
            environmentPointers.forEach { free($0) }
        }
        try appendEnvironment(spec.environment, to: &environmentPointers)
        try validate([spec.workingDirectory ?? ""])
        if let badKey = spec.environment.keys.first(where: { !isValidEnvironmentName($0) }) {
            throw SystemError(call: "posix_spawn", subject: "environment name \(badKey.debugDescription)", errno: EINVAL)
        }
        environmentPointers.append(nil)
        let directoryPointer = spec.workingDirectory.map { strdup($0) } ?? nil
        defer { free(directoryPointer) }
        var pid: pid_t = 0
        let error = argumentPointers.withUnsafeBufferPointer { arguments in
            environmentPointers.withUnsafeBufferPointer { environment in
                flowd_spawn(
                    spec.executable, arguments.baseAddress, environment.baseAddress, directoryPointer,
                    standardInput ?? -1, standardOutput, standardError, &pid)
            }
        }
        guard error == 0 else { throw spawnError(spec, errno: error) }
        return pid
    }

    /// Strings the kernel cannot carry are a runtime error in the definition, not a bug.
    private static func validate(_ strings: [String]) throws(SystemError) {
        if let bad = strings.first(where: { containsNUL($0) }) {
            throw SystemError(call: "posix_spawn", subject: "string with a NUL byte: \(bad.debugDescription)", errno: EINVAL)
        }
    }

    /// Copies each `NAME=value` into its own malloc'd C string (freed by the caller),
    /// checking each value for NUL bytes while it is copied (memchr, not a Swift byte
    /// walk: the daemon's whole environment goes through here at every spawn). Names
    /// are checked by the caller, after the values, as before.
    private static func appendEnvironment(
        _ environment: [String: String], to pointers: inout [UnsafeMutablePointer<CChar>?]
    ) throws(SystemError) {
        for (name, value) in environment {
            var name = name, value = value
            let entry: UnsafeMutablePointer<CChar>? = name.withUTF8 { nameBytes in
                value.withUTF8 { valueBytes in
                    if let base = valueBytes.baseAddress, memchr(base, 0, valueBytes.count) != nil { return nil }
                    let entry = malloc(nameBytes.count + valueBytes.count + 2)!.assumingMemoryBound(to: CChar.self)
                    if let base = nameBytes.baseAddress { memcpy(entry, base, nameBytes.count) }
                    entry[nameBytes.count] = CChar(UInt8(ascii: "="))
                    if let base = valueBytes.baseAddress { memcpy(entry + nameBytes.count + 1, base, valueBytes.count) }
                    entry[nameBytes.count + 1 + valueBytes.count] = 0
                    return entry
                }
            }
            guard let entry else {
                throw SystemError(call: "posix_spawn", subject: "string with a NUL byte: \(value.debugDescription)", errno: EINVAL)
            }
            pointers.append(entry)
        }
    }

    private static func containsNUL(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false }
    }

    /// Non-empty, without NUL or `=`.
    private static func isValidEnvironmentName(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains(0) && !name.utf8.contains(UInt8(ascii: "="))
    }

    /// posix_spawn reports a failed chdir and a failed exec alike; name the
    /// working directory when it is the one that is unusable.
    private static func spawnError(_ spec: ProcessSpec, errno error: Int32) -> SystemError {
        if let directory = spec.workingDirectory, access(directory, X_OK) != 0 {
            return SystemError(call: "chdir", subject: directory, errno: error)
        }
        return SystemError(call: "posix_spawn", subject: spec.executable, errno: error)
    }

    /// A descriptor that polls readable once `pid` has exited.
    static func openPidDescriptor(_ pid: Int32) throws(SystemError) -> Int32 {
        try systemCall("pidfd_open", String(pid)) { flowd_pidfd_open(pid) }
    }

    /// A non-blocking, close-on-exec eventfd.
    static func makeEventDescriptor() throws(SystemError) -> Int32 {
        try systemCall("eventfd") { flowd_eventfd() }
    }

    /// Adds 1 to an eventfd. EAGAIN (counter full: a wake-up is pending) is fine.
    static func signalEvent(_ descriptor: Int32) {
        var one: UInt64 = 1
        _ = try? systemCall("write", "eventfd") { Glibc.write(descriptor, &one, MemoryLayout<UInt64>.size) }
    }

    /// Sends `signal` to the process group `group` (the child's pid). When the
    /// group is gone (the child left it), signals the child itself; the pid is
    /// safe to use because the child is not reaped yet. ESRCH is not an error.
    static func signalGroup(_ group: Int32, _ signal: Int32) {
        if kill(-group, signal) == 0 { return }
        _ = kill(group, signal)
    }

    /// Reaps `pid`, blocking until it has exited.
    static func reap(_ pid: Int32) throws(SystemError) -> ProcessOutcome.Termination {
        var exited: Int32 = 0
        var value: Int32 = 0
        try systemCall("waitpid", String(pid)) { flowd_wait(pid, &exited, &value) }
        return exited != 0 ? .exited(value) : .signaled(value)
    }

    /// poll(2) over `descriptors`; `timeout` in milliseconds, -1 for none.
    /// EINTR is retried by returning 0 ready descriptors (the caller loops anyway).
    static func poll(_ descriptors: inout [pollfd], timeout: Int32) throws(SystemError) {
        let result = descriptors.withUnsafeMutableBufferPointer { buffer in
            Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), timeout)
        }
        if result < 0 {
            let code = errno
            if code == EINTR { return }
            throw SystemError(call: "poll", errno: code)
        }
    }

    /// One non-blocking read into `buffer`.
    static func read(_ descriptor: Int32, into buffer: inout [UInt8]) throws(SystemError) -> ReadResult {
        let count = buffer.count
        let result = buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(SystemError) in
                try systemCall("read") { Glibc.read(descriptor, bytes.baseAddress, count) }
            }
        }
        switch result {
        case .success(0): return .endOfFile
        case .success(let count): return .data(count)
        case .failure(let error) where error.errno == EAGAIN: return .wouldBlock
        case .failure(let error): throw error
        }
    }

    /// One non-blocking write of `bytes` that never raises SIGPIPE.
    static func write(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> WriteResult {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SystemError) in
                try systemCall("write") { flowd_write_without_sigpipe(descriptor, raw.baseAddress, raw.count) }
            }
        }
        switch result {
        case .success(let count): return .wrote(count)
        case .failure(let error) where error.errno == EAGAIN: return .wouldBlock
        case .failure: return .closed
        }
    }

    /// Closes a descriptor this process owns. Errors from close(2) on Linux leave the
    /// descriptor closed anyway, so there is nothing to report but a bug (EBADF).
    static func close(_ descriptor: Int32) {
        let result = Glibc.close(descriptor)
        precondition(result == 0 || errno != EBADF, "close(\(descriptor)): not open, a bug in flowd")
    }
}

extension ProcessSystem {
    /// What /proc/PID/stat says about a process: its state letter, process group and
    /// start time (field 22, clock ticks after boot). nil when there is no such process.
    static func processStat(_ pid: Int32) -> (state: Character, group: Int32, startTime: UInt64)? {
        let path = "/proc/\(pid)/stat"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 1024)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        // The command name may hold spaces and parentheses: fields start after the last ")".
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let group = Int32(fields[2]), let start = UInt64(fields[19]) else { return nil }
        return (state, group, start)
    }

    /// Pidfds of the processes in `group` started at or after `startedAt` (clock ticks
    /// after boot), read from /proc. A process that exits meanwhile is left out.
    static func openGroupMembers(_ group: Int32, startedAt: UInt64) -> [(pid: Int32, descriptor: Int32)] {
        var members: [(pid: Int32, descriptor: Int32)] = []
        for name in (try? FileSystem.entries("/proc")) ?? [] {
            guard let pid = Int32(name), let stat = processStat(pid), stat.group == group, stat.state != "Z",
                  stat.startTime >= startedAt, let descriptor = try? openPidDescriptor(pid) else { continue }
            // Checked again through the pidfd's process: the pid may have been reused in between.
            guard processStat(pid)?.group == group else {
                close(descriptor)
                continue
            }
            members.append((pid, descriptor))
        }
        return members
    }

    /// Waits until every pidfd in `members` reports its exit or `deadline` passes, sends
    /// SIGKILL through the pidfd of each one still running (so a reused pid is never
    /// hit), closes them all and returns the pids it killed.
    static func waitForExitOrKill(_ members: [(pid: Int32, descriptor: Int32)], until deadline: ContinuousClock.Instant) -> [Int32] {
        var running = members
        defer {
            for member in running {
                _ = flowd_pidfd_send_signal(member.descriptor, SIGKILL)
                close(member.descriptor)
            }
        }
        while !running.isEmpty {
            let left = deadline - .now
            guard left > .zero else { break }
            var pollSet = running.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            guard (try? poll(&pollSet, timeout: Int32(clamping: left.milliseconds + 1))) != nil else { break }
            for entry in pollSet where entry.revents != 0 {
                close(entry.fd)
                running.removeAll { $0.descriptor == entry.fd }
            }
        }
        return running.map(\.pid)
    }
}

extension ProcessSystem {
    /// Sends `signal` to the process group `group` only (never to a single pid: the
    /// caller is not its parent, so the pid may have been reused). ESRCH is not an error.
    static func signalGroupOnly(_ group: Int32, _ signal: Int32) {
        precondition(group > 1, "signalGroupOnly needs a real process group id")
        _ = kill(-group, signal)
    }
}
