// ProcessRunner.swift: runs one step attempt's process on the calling worker thread.
//
// Spawns the child in its own process group with only stdin/stdout/stderr, then
// polls its two output pipes, its stdin pipe, a pidfd and the cancellation's
// eventfd until the child exits. Output is kept as a bounded tail. On timeout or
// cancellation the group gets SIGTERM, then SIGKILL after the grace. When the
// child exits, whatever is left of its group is SIGKILLed, the pipes are drained of
// what is already buffered, and the child is reaped, so a grandchild holding a
// pipe open cannot keep the worker waiting.
//
// Fails (throws SystemError) only when the child could not be started: a missing
// executable or working directory, or no descriptors left. Once the child runs,
// every outcome is a ProcessOutcome.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs child processes for step attempts.
public enum ProcessRunner {
    /// Spawns the child and blocks the calling (worker) thread until it and its
    /// output are done. Throws SystemError only when the spawn itself fails (e.g.
    /// ENOENT for the executable, with the path as subject; a missing working
    /// directory is reported as `chdir` with the directory as subject).
    ///
    /// A cancellation that fired before the call returns an outcome with pid 0,
    /// `cancelled` set and termination `.signaled(SIGTERM)`, without spawning.
    ///
    /// `onSpawn` is called with the child's pid right after the spawn, before anything
    /// is awaited (the engine journals it to find orphans after a crash).
    public static func run(
        _ spec: ProcessSpec, cancellation: ProcessCancellation? = nil, onSpawn: ((Int32) -> Void)? = nil
    ) throws(SystemError) -> ProcessOutcome {
        precondition(spec.outputLimit >= 0, "ProcessSpec.outputLimit must not be negative")
        let startedAt = ContinuousClock.now
        if let cancellation, cancellation.isCancelled {
            return cancelledBeforeStart(at: startedAt)
        }
        let descriptors = OwnedDescriptors()
        defer { descriptors.closeAll() }

        var wakeDescriptor: Int32?
        if let cancellation {
            let descriptor = try descriptors.adopt(ProcessSystem.makeEventDescriptor())
            if cancellation.register(wakeDescriptor: descriptor) {
                return cancelledBeforeStart(at: startedAt)
            }
            wakeDescriptor = descriptor
        }
        defer { if let wakeDescriptor { cancellation?.unregister(wakeDescriptor: wakeDescriptor) } }

        let output = try descriptors.adoptPipe(ProcessSystem.makePipe(nonBlockingEnd: .read))
        let error = try descriptors.adoptPipe(ProcessSystem.makePipe(nonBlockingEnd: .read))
        let input = try spec.standardInput.map { _ throws(SystemError) in
            try descriptors.adoptPipe(ProcessSystem.makePipe(nonBlockingEnd: .write))
        }
        let pid = try ProcessSystem.spawn(
            spec, standardInput: input?.read, standardOutput: output.write, standardError: error.write)
        onSpawn?(pid)
        descriptors.close(output.write)
        descriptors.close(error.write)
        if let input { descriptors.close(input.read) }

        let pidDescriptor: Int32
        do {
            pidDescriptor = try descriptors.adopt(ProcessSystem.openPidDescriptor(pid))
        } catch {
            ProcessSystem.signalGroup(pid, SIGKILL)
            _ = try? ProcessSystem.reap(pid)
            throw error
        }

        var supervision = Supervision(
            spec: spec, pid: pid, pidDescriptor: pidDescriptor, wakeDescriptor: wakeDescriptor,
            cancellation: cancellation, outputDescriptor: output.read, errorDescriptor: error.read,
            inputDescriptor: input?.write, descriptors: descriptors)
        let termination: ProcessOutcome.Termination
        do {
            try supervision.superviseUntilExit()
            ProcessSystem.signalGroup(pid, SIGKILL)
            try supervision.drainBufferedOutput()
            termination = try ProcessSystem.reap(pid)
        } catch {
            // poll, read or waitpid failed: a bug or a broken kernel. Do not leave
            // the child behind.
            ProcessSystem.signalGroup(pid, SIGKILL)
            _ = try? ProcessSystem.reap(pid)
            throw error
        }
        return ProcessOutcome(
            pid: pid, termination: termination,
            timedOut: supervision.timedOut, cancelled: supervision.cancelled,
            standardOutput: supervision.outputTail.bytes, standardError: supervision.errorTail.bytes,
            standardOutputBytes: supervision.outputTail.totalBytes,
            standardErrorBytes: supervision.errorTail.totalBytes,
            startedAt: startedAt, endedAt: .now)
    }

    private static func cancelledBeforeStart(at instant: ContinuousClock.Instant) -> ProcessOutcome {
        ProcessOutcome(
            pid: 0, termination: .signaled(SIGTERM), timedOut: false, cancelled: true,
            standardOutput: [], standardError: [], standardOutputBytes: 0, standardErrorBytes: 0,
            startedAt: instant, endedAt: instant)
    }
}

/// The descriptors one run has opened and not yet closed; `closeAll` closes the rest.
/// A class so the run and its Supervision share it; owned by the run's thread.
final class OwnedDescriptors {
    private var open: Set<Int32> = []

    func adopt(_ descriptor: Int32) -> Int32 {
        open.insert(descriptor)
        return descriptor
    }

    func adoptPipe(_ pipe: (read: Int32, write: Int32)) -> (read: Int32, write: Int32) {
        open.insert(pipe.read)
        open.insert(pipe.write)
        return pipe
    }

    func close(_ descriptor: Int32) {
        guard open.remove(descriptor) != nil else {
            preconditionFailure("descriptor \(descriptor) closed twice: a bug in flowd")
        }
        ProcessSystem.close(descriptor)
    }

    func closeAll() {
        for descriptor in open { ProcessSystem.close(descriptor) }
        open.removeAll()
    }
}
