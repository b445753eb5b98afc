// EngineStatus.swift: what the engine publishes for readers on other threads.
//
// The engine's state belongs to its loop thread; the control server must not touch it.
// After each change the engine publishes a small snapshot here (counts, the workflow
// list with load errors), and the control server reads the latest one under the lock.

import Synchronization

/// A snapshot of the engine for `flowadm status` and `flowadm workflows`.
public struct EngineSnapshot: Sendable {
    public var phase: String = "starting"
    public var startedAt: Int64 = WallClock.nowMicroseconds()
    public var workers: Int = 0
    public var busyWorkers: Int = 0
    public var running: Int = 0
    public var queued: Int = 0
    public var waiting: Int = 0
    public var workflows: [JSONValue] = []
    public var definitionErrors: [JSONValue] = []
    /// Connector manifests in force, with their actions and credentials (present or not).
    public var connectors: [JSONValue] = []
    public var connectorErrors: [JSONValue] = []
    /// Runs deleted by retention since the daemon started.
    public var runsPruned: Int = 0
    /// Whether the journal can be written (not: since when, the error).
    public var journal = JournalHealth()
}

/// The latest snapshot, guarded by a Mutex.
public final class EngineStatusBoard: Sendable {
    private let snapshot = Mutex(EngineSnapshot())
    /// Called after every update, outside the lock (the daemon keeps STATUS= current with it).
    private let onUpdate: (@Sendable () -> Void)?

    public init(onUpdate: (@Sendable () -> Void)? = nil) {
        self.onUpdate = onUpdate
    }

    public var current: EngineSnapshot { snapshot.withLock { $0 } }

    func update(_ change: (inout EngineSnapshot) -> Void) {
        snapshot.withLock { change(&$0) }
        onUpdate?()
    }
}
