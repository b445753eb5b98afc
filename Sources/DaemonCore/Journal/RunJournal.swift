// RunJournal.swift: the journal's one writer, a thread that owns the write connection.
//
// The engine submits JournalWrites with an optional completion. The writer thread takes
// everything queued, applies it in one transaction and commits (group commit: under load
// one fsync covers many writes), then calls each completion with the outcome. A
// completion runs on the writer thread, so it must only hand work to another thread
// (typically EventLoop.execute). A failed batch is rolled back and its completions get
// the error; the engine decides what to do (see docs/DESIGN.md on a full disk).

import Foundation

/// The write side of the SQLite journal.
public final class RunJournal: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<Void, SQLiteError>) -> Void

    private struct Submission {
        var writes: [JournalWrite]
        var completion: Completion?
    }

    public let path: String
    /// Owned by the writer thread once `start()` has run; before that, by the opener.
    private let connection: SQLiteConnection
    /// Guards `pending`, `stopping` and `finished`.
    private let condition = NSCondition()
    private var pending: [Submission] = []
    private var stopping = false
    private var finished = false
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
        try SQLiteMigrator(JournalSchema.migrations).migrate(connection)
        highestRunID = try connection.scalar("SELECT COALESCE(MAX(id), 0) FROM runs").intValue ?? 0
    }

    /// Starts the writer thread.
    public func start() {
        let thread = Thread { [self] in writerLoop() }
        thread.name = "flowd-journal"
        thread.start()
    }

    /// Queues `writes`; `completion` runs on the writer thread after they commit or fail.
    public func submit(_ writes: [JournalWrite], completion: Completion? = nil) {
        let writes = writes.contains(where: \.isFromParallelItem) ? writes.flatMap(\.forParallelItems) : writes
        let redacted = writes.map { $0.redacted(by: credentials) }
        condition.lock()
        precondition(!stopping, "journal write submitted after close")
        pending.append(Submission(writes: redacted, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// Commits everything queued, then stops the writer thread and waits for it.
    public func close() {
        condition.lock()
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            if done {
                finished = true
                condition.broadcast()
            }
            condition.unlock()
            if done { return }
            commit(batch)
        }
    }

    private func commit(_ batch: [Submission]) {
        let outcome: Result<Void, SQLiteError>
        do {
            try connection.transaction {
                for submission in batch {
                    for write in submission.writes { try write.apply(to: connection) }
                }
            }
            outcome = .success(())
        } catch let error as SQLiteError {
            outcome = .failure(error)
        } catch {
            preconditionFailure("journal write threw a non-SQLite error: \(error)")
        }
        for submission in batch { submission.completion?(outcome) }
    }
}
