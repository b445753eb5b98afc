// EventHub.swift: live events from the engine to `flowadm watch` and `logs -f`.
//
// The engine publishes on its loop thread; subscribers are Varlink reply sinks of
// streaming calls, which are safe to use from any thread. A subscriber whose client has
// gone away is dropped at the next publish. Publishing with no subscribers costs one
// lock and an empty check, so the engine can call it on every state change.

import Synchronization

/// Fans engine events out to streaming control clients.
public final class EventHub: Sendable {
    struct Subscriber {
        var runID: Int64?
        var workflow: String?
        var sink: VarlinkReplySink
    }

    /// Guarded by the Mutex: subscribers by id, and the next id.
    private let state = Mutex<(subscribers: [UInt64: Subscriber], nextID: UInt64)>(([:], 1))

    public init() {}

    var hasSubscribers: Bool { state.withLock { !$0.subscribers.isEmpty } }

    /// Streams every event matching the filters to `sink` until it closes.
    @discardableResult
    func subscribe(runID: Int64? = nil, workflow: String? = nil, sink: VarlinkReplySink) -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = Subscriber(runID: runID, workflow: workflow, sink: sink)
            return id
        }
    }

    func unsubscribe(_ id: UInt64) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    /// Sends `event` (an object with at least "kind") to the matching subscribers.
    func publish(_ event: [String: JSONValue], runID: Int64?, workflow: String?) {
        let runID = runID.map(ItemBranchKey.run(of:))  // an item branch's events are its run's
        let targets: [Subscriber] = state.withLock { state in
            guard !state.subscribers.isEmpty else { return [] }
            state.subscribers = state.subscribers.filter { !$0.value.sink.isClosed }
            return state.subscribers.values.filter { subscriber in
                (subscriber.runID == nil || subscriber.runID == runID)
                    && (subscriber.workflow == nil || subscriber.workflow == workflow)
            }
        }
        guard !targets.isEmpty else { return }
        var message = event
        message["at"] = .string(WallClock.rfc3339(microseconds: WallClock.nowMicroseconds()))
        if let runID { message["run"] = .int(runID) }
        if let workflow { message["workflow"] = .string(workflow) }
        for target in targets { target.sink.reply(["event": .object(message)], continues: true) }
    }
}
