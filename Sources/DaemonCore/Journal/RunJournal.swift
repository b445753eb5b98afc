// RunJournal.swift: the journal's one writer, a thread that owns the write connection.
//
// The engine submits JournalWrites with an optional completion. The writer thread takes
// everything queued, applies it in one transaction and commits (group commit: under load
// one fsync covers many writes), then calls each completion with the outcome. A
// completion runs on the writer thread, so it must only hand work to another thread
// (typically EventLoop.execute).
//
// How it fails (issue 5): a batch that fails with a transient error (disk full, I/O
// error, read-only, cannot open, busy, locked, out of memory) is rolled back and kept:
// the writer retries it after 0.5 s, doubling to 10 s, until it commits, and its
// completions run once, after that commit. Meanwhile `health` says "not writable since T:
// error" and the health observer hears of every failed try and of the recovery. A
// permanent error (a constraint) fails only the submission that caused it: the batch is
// tried again with each submission in its own savepoint, and the others commit. Between
// two tries the writer answers health probes (the watchdog's), so a degraded daemon is
// still seen alive while a writer hung inside SQLite is not. After `stopRetrying(after:)`
// (shutdown) a batch still failing past that deadline gets the error instead.

import Foundation
import Synchronization

/// Whether the journal can be written, as its writer last found it.
public struct JournalHealth: Sendable, Equatable {
    /// When the first of the current run of failed commits happened (microseconds since
    /// the epoch); nil while the journal is writable.
    public var notWritableSince: Int64?
    /// The last transient error, while not writable.
    public var error: String?
    /// Failed tries of the batch being retried (0 while writable).
    public var retries: Int = 0

    public var isWritable: Bool { notWritableSince == nil }

    public init(notWritableSince: Int64? = nil, error: String? = nil, retries: Int = 0) {
        self.notWritableSince = notWritableSince
        self.error = error
        self.retries = retries
    }
}

/// The write side of the SQLite journal.
public final class RunJournal: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<Void, SQLiteError>) -> Void
    public typealias HealthObserver = @Sendable (JournalHealth) -> Void

    private struct Submission {
        var writes: [JournalWrite]
        var completion: Completion?
    }

    /// The pause after the first failed try of a batch, doubled after each further one.
    static let firstRetryDelay = Duration.milliseconds(500)
    static let maximumRetryDelay = Duration.seconds(10)
    /// wal_autocheckpoint of the writer connection, in pages.
    static let checkpointPages = 4000
    /// How long a deferred submission may wait for a commit to join (see submitDeferred).
    static let deferredDelay = Duration.milliseconds(2)

    public let path: String
    /// Owned by the writer thread once `start()` has run; before that, by the opener.
    private let connection: SQLiteConnection
    /// Guards `pending`, `probes`, `stopping`, `finished` and `giveUpAt`.
    private let condition = NSCondition()
    private var pending: [Submission] = []
    /// Whether `pending` holds a submission that wants its commit now (not only deferred ones).
    private var urgentPending = false
    /// When the first deferred submission now in `pending` came.
    private var oldestDeferred: ContinuousClock.Instant?
    private var probes: [@Sendable () -> Void] = []
    private var stopping = false
    private var finished = false
    /// Past this instant a failing batch is no longer retried (set at shutdown).
    private var giveUpAt: ContinuousClock.Instant?
    /// The health and who hears of its changes.
    private let healthState = Mutex<(health: JournalHealth, observer: HealthObserver?)>((JournalHealth(), nil))
    /// The highest run id in the journal when it was opened.
    public let highestRunID: Int64
    /// Secret values never reach the journal: every write is redacted on submission.
    public let credentials: CredentialStore

    /// Opens (creating if needed) and migrates the journal at `path`. Throws on a
    /// journal that cannot be opened or is newer than this flowd.
    public init(path: String, synchronous: DaemonConfiguration.JournalSynchronous, credentials: CredentialStore = CredentialStore()) throws {
        self.path = path
        self.credentials = credentials
        var options = SQLiteOptions()
        options.synchronous = synchronous == .full ? .full : .normal
        connection = try SQLiteConnection(path: path, options: options)
        // The checkpoint runs inside the commit that crosses this many log pages and syncs
        // the log and the database file there, stalling the writer (and the run waiting
        // for its "attempt started" commit): 4,000 pages (16 MiB) instead of SQLite's 1,000
        // makes that a quarter as often, and each copies about the same hot pages.
        try connection.executeScript("PRAGMA wal_autocheckpoint = \(Self.checkpointPages)")
        try SQLiteMigrator(JournalSchema.migrations).migrate(connection)
        highestRunID = try connection.scalar("SELECT COALESCE(MAX(id), 0) FROM runs").intValue ?? 0
    }

    /// Starts the writer thread.
    public func start() {
        let thread = Thread { [self] in writerLoop() }
        thread.name = "flowd-journal"
        thread.start()
    }

    /// Whether the journal is writable now (any thread).
    public var health: JournalHealth { healthState.withLock { $0.health } }

    /// `observer` is called on the writer thread after every failed try and on recovery.
    public func observeHealth(_ observer: @escaping HealthObserver) {
        healthState.withLock { $0.observer = observer }
    }

    /// Queues `writes`; `completion` runs on the writer thread after they commit or fail.
    public func submit(_ writes: [JournalWrite], completion: Completion? = nil) {
        enqueue(writes, completion: completion, deferred: false)
    }

    /// Queues `writes` that nothing waits for (a spawned step's pid): they join the next
    /// commit, or get their own `deferredDelay` after they came. Under load this saves a
    /// transaction per write; order with other submissions is kept.
    public func submitDeferred(_ writes: [JournalWrite]) {
        enqueue(writes, completion: nil, deferred: true)
    }

    private func enqueue(_ writes: [JournalWrite], completion: Completion?, deferred: Bool) {
        // A parallel item's writes become its run's; secrets never reach the journal.
        let writes = writes.contains(where: \.isFromParallelItem) ? writes.flatMap(\.forParallelItems) : writes
        let redacted = writes.map { $0.redacted(by: credentials) }
        condition.lock()
        precondition(!stopping, "journal write submitted after close")
        let wasEmpty = pending.isEmpty
        pending.append(Submission(writes: redacted, completion: completion))
        if deferred {
            if oldestDeferred == nil { oldestDeferred = .now }
        } else {
            urgentPending = true
        }
        // A deferred write wakes only a writer waiting with nothing queued (it must learn
        // the deadline); a busy or already timed writer sees it.
        if !deferred || wasEmpty { condition.signal() }
        condition.unlock()
    }

    /// `answered` is called on the writer thread as soon as it is between two commits or
    /// two tries of a failing batch: it proves the writer is not stuck inside SQLite.
    public func probe(_ answered: @escaping @Sendable () -> Void) {
        condition.lock()
        probes.append(answered)
        condition.signal()
        condition.unlock()
    }

    /// From now on, a batch still failing `grace` from now gets its error instead of
    /// another try (shutdown must end even on a full disk).
    public func stopRetrying(after grace: Duration) {
        condition.lock()
        let deadline = ContinuousClock.now + grace
        giveUpAt = min(giveUpAt ?? deadline, deadline)
        condition.signal()
        condition.unlock()
    }

    /// Commits everything queued (retrying a failing batch for at most `grace`), then
    /// stops the writer thread and waits for it.
    public func close(retryingFor grace: Duration = .seconds(30)) {
        stopRetrying(after: grace)
        condition.lock()
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while !urgentPending && probes.isEmpty && !stopping {
                if pending.isEmpty {
                    condition.wait()
                    continue
                }
                // Only deferred writes are waiting: commit them once the oldest is due.
                let due = (oldestDeferred ?? .now) + Self.deferredDelay, now = ContinuousClock.now
                if now >= due { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.seconds(due - now)))
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            urgentPending = false
            oldestDeferred = nil
            let answered = probes
            probes.removeAll()
            let done = stopping && batch.isEmpty
            if done {
                finished = true
                condition.broadcast()
            }
            condition.unlock()
            for probe in answered { probe() }
            if done { return }
            if !batch.isEmpty { commit(batch) }
        }
    }

    /// Commits `batch`, retrying transient failures; then calls its completions.
    private func commit(_ batch: [Submission]) {
        var delay = Self.firstRetryDelay
        var outcomes: [Result<Void, SQLiteError>]
        while true {
            switch attempt(batch) {
            case .committed(let results):
                outcomes = results
                markWritable()
            case .failed(let error):
                markNotWritable(error)
                if waitBeforeRetry(delay) {
                    delay = min(delay * 2, Self.maximumRetryDelay)
                    continue
                }
                outcomes = batch.map { _ in .failure(error) }
            }
            break
        }
        for (submission, outcome) in zip(batch, outcomes) { submission.completion?(outcome) }
    }

    private enum Attempt {
        /// Committed; one outcome per submission (a permanent error fails its own only).
        case committed([Result<Void, SQLiteError>])
        /// Rolled back on a transient error: nothing of the batch is in the journal.
        case failed(SQLiteError)
    }

    private func attempt(_ batch: [Submission]) -> Attempt {
        // Barriers alone (empty submissions) need no transaction, which could fail.
        if batch.allSatisfy({ $0.writes.isEmpty }) { return .committed(batch.map { _ in .success(()) }) }
        do {
            try connection.transaction {
                for submission in batch {
                    for write in submission.writes { try write.apply(to: connection) }
                }
            }
            return .committed(batch.map { _ in .success(()) })
        } catch let error as SQLiteError where error.isTransient {
            return .failed(error)
        } catch let error as SQLiteError {
            return batch.count == 1 ? .committed([.failure(error)]) : attemptIsolating(batch)
        } catch {
            preconditionFailure("journal write threw a non-SQLite error: \(error)")
        }
    }

    /// The batch again, each submission in its own savepoint: one that fails for good is
    /// undone alone and gets its error; a transient error undoes the whole batch.
    private func attemptIsolating(_ batch: [Submission]) -> Attempt {
        var outcomes: [Result<Void, SQLiteError>] = []
        do {
            try connection.transaction {
                for submission in batch {
                    do {
                        try connection.transaction {
                            for write in submission.writes { try write.apply(to: connection) }
                        }
                        outcomes.append(.success(()))
                    } catch let error as SQLiteError where !error.isTransient {
                        outcomes.append(.failure(error))
                    }
                }
            }
            return .committed(outcomes)
        } catch let error as SQLiteError where error.isTransient {
            return .failed(error)
        } catch let error as SQLiteError {
            return .committed(batch.map { _ in .failure(error) })
        } catch {
            preconditionFailure("journal write threw a non-SQLite error: \(error)")
        }
    }

    /// Waits `delay` (answering probes meanwhile); false when the batch must be given up.
    private func waitBeforeRetry(_ delay: Duration) -> Bool {
        let until = ContinuousClock.now + delay
        condition.lock()
        defer { condition.unlock() }
        while true {
            if !probes.isEmpty {
                let answered = probes
                probes.removeAll()
                condition.unlock()
                for probe in answered { probe() }
                condition.lock()
                continue
            }
            let now = ContinuousClock.now
            if let giveUpAt, now >= giveUpAt { return false }
            let wakeAt = min(until, giveUpAt ?? until)
            if now >= wakeAt { return true }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.seconds(wakeAt - now)))
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    private func markNotWritable(_ error: SQLiteError) {
        let (health, observer) = healthState.withLock { state in
            state.health.notWritableSince = state.health.notWritableSince ?? WallClock.nowMicroseconds()
            state.health.error = error.description
            state.health.retries += 1
            return (state.health, state.observer)
        }
        observer?(health)
    }

    private func markWritable() {
        let observer: HealthObserver? = healthState.withLock { state in
            guard !state.health.isWritable else { return nil }
            state.health = JournalHealth()
            return state.observer
        }
        observer?(JournalHealth())
    }
}
