// VarlinkServerLoop.swift: the server thread's poll loop and its connections.
//
// One thread owns the listener, every connection and every buffer; other threads only
// reach it through the outbox (replies, stop requests) and the eventfd that wakes it.
// Calls on one connection are handled strictly in order: while a call awaits its final
// reply, later calls wait in a short queue and the socket is not read further. A
// malformed or oversized message gets an InvalidParameter error, then the connection is
// closed once that reply is flushed. Socket errors from one client close that client
// only; poll failing with anything but ENOMEM means a bug and traps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One client connection; owned by the server thread.
private final class VarlinkConnection {
    enum Pending {
        case call(VarlinkCall)
        /// A message that broke the protocol: answer with an error, then close.
        case reject
    }

    let id: UInt64
    let descriptor: Int32
    let peer: PeerCredentials
    var decoder: VarlinkFrameDecoder
    var pending: [Pending] = []
    /// The call awaiting its final reply; nil when none.
    var activeSink: VarlinkReplySink?
    var output: [UInt8] = []
    var outputStart = 0
    /// The peer shut down its sending side; what it sent is still answered.
    var peerFinishedSending = false
    /// A protocol error was queued: read nothing more, close once it is answered.
    var rejected = false
    var closeWhenFlushed = false
    var lastActivity: Double

    init(id: UInt64, descriptor: Int32, peer: PeerCredentials, maxMessageBytes: Int, now: Double) {
        self.id = id
        self.descriptor = descriptor
        self.peer = peer
        self.decoder = VarlinkFrameDecoder(maxMessageBytes: maxMessageBytes)
        self.lastActivity = now
    }

    var pendingOutputBytes: Int { output.count - outputStart }

    var isIdle: Bool { activeSink == nil && pending.isEmpty && pendingOutputBytes == 0 }
}

/// The event loop. Its state is confined to the server thread once `run` starts;
/// `prepare` runs before that under the server's lifecycle lock, and `requestStop`
/// only touches the thread-safe outbox.
final class VarlinkServerLoop: @unchecked Sendable {
    private let listeningDescriptor: Int32
    private let router: VarlinkRouter
    private let limits: VarlinkServerLimits
    private let outbox = VarlinkOutbox()
    private var wakeDescriptor: Int32 = -1
    private var connections: [UInt64: VarlinkConnection] = [:]
    private var connectionsPerUID: [UInt32: Int] = [:]
    private var nextConnectionID: UInt64 = 1
    /// Accepting pauses briefly when the process runs out of descriptors.
    private var acceptPausedUntil = 0.0
    private var receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(listeningDescriptor: Int32, router: VarlinkRouter, limits: VarlinkServerLimits) {
        self.listeningDescriptor = listeningDescriptor
        self.router = router
        self.limits = limits
    }

    func prepare() throws(SystemError) {
        wakeDescriptor = try WakeEvent.make()
        outbox.open(wakeDescriptor: wakeDescriptor)
    }

    func requestStop() { outbox.requestStop() }

    func run() {
        while true {
            var order: [VarlinkConnection] = []
            var descriptors = pollDescriptors(order: &order)
            do {
                try UnixSocket.poll(&descriptors, timeoutMilliseconds: pollTimeout())
            } catch where error.errno == ENOMEM {
                usleep(10_000)  // the kernel is short of memory: back off, then poll again
                continue
            } catch {
                preconditionFailure("varlink server: \(error)")  // EINVAL: a bug in building the set
            }
            WakeEvent.drain(wakeDescriptor)  // before takeAll, so no wake-up is lost
            if deliverOutbox() { break }
            for (index, connection) in order.enumerated() {
                serviceConnection(connection, events: descriptors[index + 2].revents)
            }
            // After servicing, so that slots freed by hung-up clients count for newcomers.
            if descriptors[1].revents & Int16(POLLIN) != 0 { acceptConnections() }
            if deliverOutbox() { break }
            finishConnections()
        }
        for connection in Array(connections.values) { disconnect(connection) }
        UnixSocket.closeDescriptor(listeningDescriptor)
        if let descriptor = outbox.close() { UnixSocket.closeDescriptor(descriptor) }
    }

    // MARK: Polling

    private func pollDescriptors(order: inout [VarlinkConnection]) -> [pollfd] {
        var descriptors = [pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        let accepting = monotonicSeconds() >= acceptPausedUntil
        // A negative descriptor is ignored by poll but keeps the index layout fixed.
        descriptors.append(pollfd(fd: accepting ? listeningDescriptor : -1, events: Int16(POLLIN), revents: 0))
        for connection in connections.values {
            var events: Int32 = 0
            if wantsInput(connection) { events |= Int32(POLLIN) }
            if connection.pendingOutputBytes > 0 { events |= Int32(POLLOUT) }
            descriptors.append(pollfd(fd: connection.descriptor, events: Int16(events), revents: 0))
            order.append(connection)
        }
        return descriptors
    }

    private func wantsInput(_ connection: VarlinkConnection) -> Bool {
        !connection.peerFinishedSending && !connection.rejected
            && connection.pending.count < limits.maxQueuedCallsPerConnection
    }

    /// Milliseconds until the next idle connection expires or accepting resumes.
    private func pollTimeout() -> Int32 {
        let now = monotonicSeconds()
        var deadline = Double.infinity
        if acceptPausedUntil > now { deadline = acceptPausedUntil }
        for connection in connections.values where connection.isIdle {
            deadline = min(deadline, connection.lastActivity + Double(limits.idleTimeoutSeconds))
        }
        guard deadline.isFinite else { return -1 }
        return Int32(min(max(0, (deadline - now) * 1000).rounded(.up), 60_000))
    }

    // MARK: Accepting

    private func acceptConnections() {
        for _ in 0..<64 {
            let descriptor: Int32
            do {
                guard let accepted = try UnixSocket.accept(listener: listeningDescriptor) else { return }
                descriptor = accepted
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    acceptPausedUntil = monotonicSeconds() + 1
                }
                return
            }
            guard let peer = try? UnixSocket.peerCredentials(descriptor) else {
                UnixSocket.closeDescriptor(descriptor)
                continue
            }
            if !hasRoom(for: peer.uid) {
                // Clients that hung up but were not serviced yet must not hold a slot.
                reapHungUpConnections()
                guard hasRoom(for: peer.uid) else {
                    UnixSocket.closeDescriptor(descriptor)
                    continue
                }
            }
            let connection = VarlinkConnection(
                id: nextConnectionID, descriptor: descriptor, peer: peer,
                maxMessageBytes: limits.maxMessageBytes, now: monotonicSeconds())
            nextConnectionID += 1
            connections[connection.id] = connection
            connectionsPerUID[peer.uid, default: 0] += 1
        }
    }

    private func hasRoom(for uid: UInt32) -> Bool {
        connections.count < limits.maxConnections && connectionsPerUID[uid, default: 0] < limits.maxConnectionsPerUID
    }

    /// Closes connections whose peer has hung up, without waiting for the next poll round.
    private func reapHungUpConnections() {
        let candidates = Array(connections.values)
        var descriptors = candidates.map { pollfd(fd: $0.descriptor, events: 0, revents: 0) }
        guard (try? UnixSocket.poll(&descriptors, timeoutMilliseconds: 0)) != nil else { return }
        for (index, connection) in candidates.enumerated() where descriptors[index].revents & Int16(POLLHUP | POLLERR) != 0 {
            disconnect(connection)
        }
    }

    // MARK: Reading and dispatching

    private func serviceConnection(_ connection: VarlinkConnection, events: Int16) {
        guard connections[connection.id] != nil else { return }
        if events & Int16(POLLIN) != 0 { readInput(connection) }
        if events & Int16(POLLHUP | POLLERR) != 0 {
            return disconnect(connection)
        }
        if events & Int16(POLLOUT) != 0 { flush(connection) }
    }

    private func readInput(_ connection: VarlinkConnection) {
        // A few reads at most, so one busy client cannot starve the others.
        reading: for _ in 0..<4 where wantsInput(connection) {
            let result: UnixSocket.ReceiveResult
            do {
                result = try UnixSocket.receive(connection.descriptor, into: &receiveBuffer)
            } catch {
                return disconnect(connection)
            }
            switch result {
            case .wouldBlock:
                break reading
            case .endOfStream:
                connection.peerFinishedSending = true
                break reading
            case .bytes(let bytes):
                connection.lastActivity = monotonicSeconds()
                connection.decoder.append(bytes)
                takeMessages(connection)
            }
        }
        advance(connection)
    }

    /// Moves complete messages from the decoder to the call queue, while it has room.
    private func takeMessages(_ connection: VarlinkConnection) {
        while !connection.rejected && connection.pending.count < limits.maxQueuedCallsPerConnection {
            do {
                guard let message = try connection.decoder.nextMessage() else { return }
                let value = try JSONValue.parse(message, maxDepth: 64)
                connection.pending.append(.call(try VarlinkCall.decode(value)))
            } catch {
                connection.pending.append(.reject)
                connection.rejected = true
            }
        }
    }

    /// Starts queued calls while none is in progress.
    private func advance(_ connection: VarlinkConnection) {
        while connection.activeSink == nil && connections[connection.id] != nil {
            if connection.pending.isEmpty { takeMessages(connection) }
            guard !connection.pending.isEmpty else { return }
            switch connection.pending.removeFirst() {
            case .reject:
                let reply = VarlinkReply(
                    parameters: ["parameter": "message"], error: "\(VarlinkRouter.serviceInterface).InvalidParameter")
                connection.pending.removeAll()
                connection.closeWhenFlushed = true
                enqueueOutput(reply.encoded(), on: connection)
                return
            case .call(let call):
                let sink = VarlinkReplySink(call: call, connectionID: connection.id, outbox: outbox)
                if !call.oneway { connection.activeSink = sink }
                // Replies the handler gives right away land in the outbox; deliverOutbox
                // picks them up and comes back here for the next call.
                router.route(call, peer: connection.peer, reply: sink)
            }
        }
    }

    // MARK: Writing

    /// Moves posted replies onto their connections and starts the calls queued behind
    /// finished ones, until the outbox stays empty. Returns true when stop was requested.
    private func deliverOutbox() -> Bool {
        while true {
            let (entries, stopRequested) = outbox.takeAll()
            if stopRequested { return true }
            if entries.isEmpty { return false }
            var finished: [VarlinkConnection] = []
            for entry in entries {
                guard let connection = connections[entry.connectionID] else { continue }
                enqueueOutput(entry.bytes, on: connection)
                if entry.finishesCall && connections[connection.id] != nil {
                    connection.activeSink = nil
                    connection.lastActivity = monotonicSeconds()
                    finished.append(connection)
                }
            }
            for connection in finished { advance(connection) }
        }
    }

    private func enqueueOutput(_ bytes: [UInt8], on connection: VarlinkConnection) {
        connection.output.append(contentsOf: bytes)
        if connection.pendingOutputBytes > limits.maxPendingOutputBytes {
            disconnect(connection)  // a reader this slow would make us hold unbounded data
        }
    }

    private func flush(_ connection: VarlinkConnection) {
        while connection.pendingOutputBytes > 0 {
            let sent: Int
            do {
                sent = try UnixSocket.send(connection.descriptor, connection.output[connection.outputStart...])
            } catch {
                return disconnect(connection)  // EPIPE, ECONNRESET: the client is gone
            }
            if sent == 0 { break }
            connection.outputStart += sent
            connection.lastActivity = monotonicSeconds()
        }
        if connection.outputStart == connection.output.count {
            connection.output.removeAll(keepingCapacity: connection.output.count <= 64 * 1024)
            connection.outputStart = 0
        } else if connection.outputStart > 64 * 1024 && connection.outputStart > connection.output.count / 2 {
            connection.output.removeSubrange(0..<connection.outputStart)
            connection.outputStart = 0
        }
    }

    /// Writes what can be written now and closes connections that are done or idle.
    private func finishConnections() {
        let now = monotonicSeconds()
        for connection in Array(connections.values) {
            if connection.pendingOutputBytes > 0 { flush(connection) }
            guard connections[connection.id] != nil, connection.pendingOutputBytes == 0 else { continue }
            let done = connection.closeWhenFlushed || (connection.peerFinishedSending && connection.isIdle)
            let idleTooLong =
                connection.isIdle && now - connection.lastActivity >= Double(limits.idleTimeoutSeconds)
            if done || idleTooLong { disconnect(connection) }
        }
    }

    private func disconnect(_ connection: VarlinkConnection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        connection.activeSink?.markClientGone()
        connection.activeSink = nil
        connection.pending.removeAll()
        let uid = connection.peer.uid
        connectionsPerUID[uid, default: 1] -= 1
        if connectionsPerUID[uid] == 0 { connectionsPerUID[uid] = nil }
        UnixSocket.closeDescriptor(connection.descriptor)
    }
}
