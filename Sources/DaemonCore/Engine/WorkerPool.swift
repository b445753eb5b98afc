// WorkerPool.swift: the fixed pool of threads that run step attempts.
//
// The engine hands a job to the pool only when it has reserved a worker for it, so the
// pool's queue stays short and fairness is decided by the engine, not by this FIFO.
// Waits (sleep, approval, backoff) never reach the pool. `shutdown` lets queued jobs
// finish and joins every thread.

import Foundation

/// A fixed number of threads running blocking jobs.
final class WorkerPool: @unchecked Sendable {
    private enum State { case running, stopping }

    let size: Int
    /// Guards `jobs`, `state` and `exited`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var state = State.running
    private var exited = 0

    init(size: Int) {
        precondition(size > 0, "a worker pool needs at least one thread")
        self.size = size
        for index in 0..<size {
            let thread = Thread { [self] in work() }
            thread.name = "flowd-worker-\(index)"
            thread.start()
        }
    }

    /// Queues `job` for the next free worker.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        precondition(state == .running, "job submitted to a stopped worker pool")
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs what is queued, then stops and joins all threads.
    func shutdown() {
        condition.lock()
        state = .stopping
        condition.broadcast()
        while exited < size { condition.wait() }
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty && state == .running { condition.wait() }
            if jobs.isEmpty {
                exited += 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
