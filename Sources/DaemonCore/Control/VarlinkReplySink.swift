// VarlinkReplySink.swift: how a handler answers a call, from any thread, at any time.
//
// A handler gets one VarlinkReplySink per call. Replies are encoded on the caller's
// thread and posted to the server's outbox; the server thread picks them up (woken by an
// eventfd) and writes them to the connection in order. Replies after the final one, to a
// oneway call, or to a client that went away are dropped, never an error: a producer
// checks `isClosed` to know when to stop.

import Synchronization

/// Replies travelling from handler threads to the server thread. Guarded by `state`.
final class VarlinkOutbox: Sendable {
    struct Entry {
        var connectionID: UInt64
        var bytes: [UInt8]
        /// This reply ends the call (no `continues`), so the next queued call may start.
        var finishesCall: Bool
    }

    private struct State {
        var entries: [Entry] = []
        var stopRequested = false
        /// The eventfd that wakes the server loop; set by `open`, nil again after `close`.
        var wakeDescriptor: Int32?
        var isClosed = false
    }

    private let state = Mutex(State())

    /// Called by the server before its loop starts.
    func open(wakeDescriptor: Int32) {
        state.withLock { $0.wakeDescriptor = wakeDescriptor }
    }

    func post(_ entry: Entry) {
        state.withLock { state in
            guard !state.isClosed else { return }
            state.entries.append(entry)
            // Signalling under the lock keeps the descriptor from being closed meanwhile.
            if state.entries.count == 1, let wakeDescriptor = state.wakeDescriptor {
                WakeEvent.signal(wakeDescriptor)
            }
        }
    }

    /// Asks the server loop to end and wakes it.
    func requestStop() {
        state.withLock { state in
            state.stopRequested = true
            if let wakeDescriptor = state.wakeDescriptor { WakeEvent.signal(wakeDescriptor) }
        }
    }

    /// Called by the server thread: everything posted so far, and whether to stop.
    func takeAll() -> (entries: [Entry], stopRequested: Bool) {
        state.withLock { state in
            defer { state.entries = [] }
            return (state.entries, state.stopRequested)
        }
    }

    /// Called by the server thread as its loop ends; returns the wake descriptor to close.
    func close() -> Int32? {
        state.withLock { state in
            defer { state.wakeDescriptor = nil }
            state.isClosed = true
            state.entries = []
            return state.wakeDescriptor
        }
    }
}

/// Where a handler sends replies. Thread-safe: may be used from any thread, later than
/// the handler call (the server thread writes). After a reply with continues == false (or
/// an error) further replies are ignored. For a call with oneway set, replies are dropped.
/// A reply with `continues: true` to a call without "more" is turned into the standard
/// `org.varlink.service.ExpectedMore` error, which ends the call.
public final class VarlinkReplySink: Sendable {
    private struct State {
        var finished = false
        var clientGone = false
    }

    /// The call had "more": true.
    public let wantsMore: Bool
    private let oneway: Bool
    private let connectionID: UInt64
    private let outbox: VarlinkOutbox
    private let state = Mutex(State())

    init(call: VarlinkCall, connectionID: UInt64, outbox: VarlinkOutbox) {
        self.wantsMore = call.more
        self.oneway = call.oneway
        self.connectionID = connectionID
        self.outbox = outbox
    }

    /// The client went away (or the server stopped): a streaming producer should stop.
    public var isClosed: Bool { state.withLock { $0.clientGone } }

    /// The final reply was sent (or the call can get no more replies).
    var isFinished: Bool { state.withLock { $0.finished } }

    /// Sends a reply; `continues: true` promises more replies to the same call.
    public func reply(_ parameters: [String: JSONValue], continues: Bool = false) {
        if continues && !wantsMore {
            return error("org.varlink.service.ExpectedMore")
        }
        send(VarlinkReply(parameters: parameters, continues: continues), finishes: !continues)
    }

    /// Sends an error reply, e.g. `io.flowd.Control.RunNotFound`; it ends the call.
    public func error(_ name: String, _ parameters: [String: JSONValue] = [:]) {
        send(VarlinkReply(parameters: parameters, error: name), finishes: true)
    }

    private func send(_ reply: VarlinkReply, finishes: Bool) {
        let bytes = oneway ? [] : reply.encoded()
        state.withLock { state in
            guard !state.finished, !state.clientGone else { return }
            if finishes { state.finished = true }
            // Posting under the lock keeps replies in the order their senders saw.
            if !oneway {
                outbox.post(.init(connectionID: connectionID, bytes: bytes, finishesCall: finishes))
            }
        }
    }

    /// Called by the server thread when the connection closes.
    func markClientGone() {
        state.withLock { state in
            state.clientGone = true
            state.finished = true
        }
    }
}
