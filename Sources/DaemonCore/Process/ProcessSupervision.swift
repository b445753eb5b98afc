// ProcessSupervision.swift: the poll loop of one run, from spawn until the child
// exits: reads output into bounded tails, feeds stdin, and runs the stop sequence
// (SIGTERM to the group, SIGKILL after the grace) on timeout or cancellation.
// Owned by the worker thread that called ProcessRunner.run.
//
// Throws only when poll or read fail in a way that means a bug or a broken kernel;
// the runner then kills and reaps the child.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct Supervision {
    /// Reads per stream per wake-up, so a fast writer cannot starve the timers.
    private static let readsPerWakeUp = 16
    /// Bytes read per stream once the child has exited; bounds the drain when
    /// something outside the group keeps writing.
    private static let drainLimit = 16 * 1024 * 1024

    let spec: ProcessSpec
    let pid: Int32
    let pidDescriptor: Int32
    let wakeDescriptor: Int32?
    let cancellation: ProcessCancellation?
    let descriptors: OwnedDescriptors

    /// Open while the child may still write; nil once at end of file and closed.
    private var outputDescriptor: Int32?
    private var errorDescriptor: Int32?
    /// Open while there are bytes left to feed and the child may read them.
    private var inputDescriptor: Int32?
    private var inputOffset = 0

    private(set) var outputTail: OutputTail
    private(set) var errorTail: OutputTail
    private(set) var timedOut = false
    private(set) var cancelled = false

    private let deadline: ContinuousClock.Instant?
    /// When SIGTERM went to the group; nil until the stop sequence starts.
    private var terminatedAt: ContinuousClock.Instant?
    private var killed = false
    private var childExited = false
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(
        spec: ProcessSpec, pid: Int32, pidDescriptor: Int32, wakeDescriptor: Int32?,
        cancellation: ProcessCancellation?, outputDescriptor: Int32, errorDescriptor: Int32,
        inputDescriptor: Int32?, descriptors: OwnedDescriptors
    ) {
        self.spec = spec
        self.pid = pid
        self.pidDescriptor = pidDescriptor
        self.wakeDescriptor = wakeDescriptor
        self.cancellation = cancellation
        self.outputDescriptor = outputDescriptor
        self.errorDescriptor = errorDescriptor
        self.inputDescriptor = inputDescriptor
        self.descriptors = descriptors
        self.outputTail = OutputTail(limit: spec.outputLimit)
        self.errorTail = OutputTail(limit: spec.outputLimit)
        self.deadline = spec.timeout.map { ContinuousClock.now + $0 }
        if let inputDescriptor, spec.standardInput?.isEmpty ?? true {
            descriptors.close(inputDescriptor)
            self.inputDescriptor = nil
        }
    }

    /// Polls until the pidfd reports the child's exit.
    mutating func superviseUntilExit() throws(SystemError) {
        while !childExited {
            runTimers(now: .now)
            var pollSet = [pollfd(fd: pidDescriptor, events: Int16(POLLIN), revents: 0)]
            if let outputDescriptor { pollSet.append(pollfd(fd: outputDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let errorDescriptor { pollSet.append(pollfd(fd: errorDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let inputDescriptor { pollSet.append(pollfd(fd: inputDescriptor, events: Int16(POLLOUT), revents: 0)) }
            if let wakeDescriptor, !cancelled {
                pollSet.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0))
            }
            try ProcessSystem.poll(&pollSet, timeout: pollTimeout(now: .now))
            for entry in pollSet where entry.revents != 0 {
                try handle(entry)
            }
        }
    }

    /// After the exit (and the SIGKILL to what was left of the group): reads what
    /// the pipes already hold, without waiting for end of file.
    mutating func drainBufferedOutput() throws(SystemError) {
        try read(.output, maximumBytes: Self.drainLimit)
        try read(.error, maximumBytes: Self.drainLimit)
    }

    private mutating func handle(_ entry: pollfd) throws(SystemError) {
        let readChunk = readBuffer.count * Self.readsPerWakeUp
        switch entry.fd {
        case pidDescriptor:
            childExited = true
        case outputDescriptor:
            try read(.output, maximumBytes: readChunk)
        case errorDescriptor:
            try read(.error, maximumBytes: readChunk)
        case inputDescriptor:
            feedInput(entry.fd)
        case wakeDescriptor:
            if cancellation?.isCancelled == true, !cancelled {
                cancelled = true
                startStopSequence(now: .now)
            }
        default:
            preconditionFailure("poll returned descriptor \(entry.fd) that was not polled")
        }
    }

    private enum OutputStream { case output, error }

    /// Reads one stream until its pipe is empty, at end of file, or `maximumBytes`
    /// were read. Closes the descriptor at end of file. Does nothing once closed.
    private mutating func read(_ stream: OutputStream, maximumBytes: Int) throws(SystemError) {
        guard let descriptor = stream == .output ? outputDescriptor : errorDescriptor else { return }
        var readSoFar = 0
        while readSoFar < maximumBytes {
            switch try ProcessSystem.read(descriptor, into: &readBuffer) {
            case .data(let count):
                switch stream {
                case .output: outputTail.append(readBuffer[..<count])
                case .error: errorTail.append(readBuffer[..<count])
                }
                readSoFar += count
            case .wouldBlock:
                return
            case .endOfFile:
                descriptors.close(descriptor)
                switch stream {
                case .output: outputDescriptor = nil
                case .error: errorDescriptor = nil
                }
                return
            }
        }
    }

    /// Writes as much of the remaining input as the pipe takes; closes the pipe
    /// when all is written or the child closed its end.
    private mutating func feedInput(_ descriptor: Int32) {
        let input = spec.standardInput ?? []
        var finished = false
        switch ProcessSystem.write(descriptor, input[inputOffset...]) {
        case .wrote(let count):
            inputOffset += count
            finished = inputOffset >= input.count
        case .wouldBlock:
            break
        case .closed:
            finished = true
        }
        if finished {
            descriptors.close(descriptor)
            inputDescriptor = nil
        }
    }

    private mutating func runTimers(now: ContinuousClock.Instant) {
        if terminatedAt == nil, let deadline, now >= deadline {
            timedOut = true
            startStopSequence(now: now)
        }
        if let terminatedAt, !killed, now >= terminatedAt + spec.killGrace {
            killed = true
            ProcessSystem.signalGroup(pid, SIGKILL)
        }
    }

    private mutating func startStopSequence(now: ContinuousClock.Instant) {
        guard terminatedAt == nil else { return }
        terminatedAt = now
        ProcessSystem.signalGroup(pid, SIGTERM)
    }

    /// Milliseconds until the next timer (deadline or SIGKILL), rounded up; -1 if none.
    private func pollTimeout(now: ContinuousClock.Instant) -> Int32 {
        let next: ContinuousClock.Instant?
        if let terminatedAt {
            next = killed ? nil : terminatedAt + spec.killGrace
        } else {
            next = deadline
        }
        guard let next else { return -1 }
        let remaining = next - now
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}
