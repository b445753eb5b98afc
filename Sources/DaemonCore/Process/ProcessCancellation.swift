// ProcessCancellation.swift: lets any thread stop a process that ProcessRunner is
// running on a worker thread. Each run registers an eventfd here; cancel() sets the
// flag and writes to every registered eventfd, which wakes the runner's poll.
// Cannot fail: a wake-up write can only fail with EAGAIN, when a wake-up is
// already pending.

import Synchronization

/// Lets another thread stop a running process: SIGTERM to its process group,
/// SIGKILL after the spec's grace. Thread-safe. Cancelling before the run starts
/// makes `ProcessRunner.run` return a cancelled outcome without spawning anything.
/// One cancellation may serve several runs, at once or one after another; it
/// never resets.
public final class ProcessCancellation: Sendable {
    private struct State {
        var cancelled = false
        /// eventfds of the runs in progress; a run removes its own before closing it.
        var wakeDescriptors: Set<Int32> = []
    }

    /// All mutable state, guarded by this mutex.
    private let state = Mutex(State())

    public init() {}

    /// Requests that the process stop. Idempotent; returns at once.
    public func cancel() {
        state.withLock { state in
            guard !state.cancelled else { return }
            state.cancelled = true
            for descriptor in state.wakeDescriptors {
                ProcessSystem.signalEvent(descriptor)
            }
        }
    }

    /// Whether cancel() has been called.
    public var isCancelled: Bool {
        state.withLock { $0.cancelled }
    }

    /// Registers a run's eventfd; returns whether the cancellation already fired
    /// (in which case the descriptor is not registered).
    func register(wakeDescriptor: Int32) -> Bool {
        state.withLock { state in
            if state.cancelled { return true }
            state.wakeDescriptors.insert(wakeDescriptor)
            return false
        }
    }

    /// Removes a run's eventfd; after this returns, cancel() no longer writes to it.
    func unregister(wakeDescriptor: Int32) {
        _ = state.withLock { state in
            state.wakeDescriptors.remove(wakeDescriptor)
        }
    }
}
