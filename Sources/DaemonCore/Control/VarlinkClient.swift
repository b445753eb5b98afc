// VarlinkClient.swift: a blocking Varlink client, for flowadm and the tests.
//
// One connection to a Unix socket; calls are sent one at a time and their replies read
// back with a deadline. An error reply throws `.remote`; a dead or missing daemon throws
// `.unreachable` with a sentence a sysadmin understands. After a timeout, a broken
// connection or a stream the caller stopped, the connection is dropped and the next call
// connects again.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a call through VarlinkClient failed.
public enum VarlinkClientError: Error, Sendable, CustomStringConvertible {
    /// Connecting to the socket failed.
    case unreachable(path: String, SystemError)
    /// The server sent something that is not a Varlink reply, or hung up mid-call.
    case protocolError(String)
    /// The server answered with an error reply.
    case remote(name: String, parameters: [String: JSONValue])
    /// No reply came within the timeout.
    case timedOut

    public var description: String {
        switch self {
        case .unreachable(let path, let error):
            switch error.errno {
            case ENOENT, ECONNREFUSED: return "flowd is not running (no socket at \(path))"
            case EACCES: return "permission denied on \(path)"
            default: return "cannot connect to \(path): \(error.reason)"
            }
        case .protocolError(let message):
            return "protocol error: \(message)"
        case .remote(let name, let parameters):
            if parameters.isEmpty { return name }
            return "\(name) \(JSONValue.object(parameters).serialized())"
        case .timedOut:
            return "timed out waiting for flowd"
        }
    }
}

/// A blocking Varlink client on a Unix socket. Not thread-safe: one caller at a time.
public final class VarlinkClient {
    /// Replies can carry whole run histories; refuse only the absurd.
    private static let maxReplyBytes = 64 * 1024 * 1024

    private let socketPath: String
    private let timeoutSeconds: Double
    private var descriptor: Int32?
    private var decoder = VarlinkFrameDecoder(maxMessageBytes: maxReplyBytes)

    /// Connects to the socket at `socketPath`. `timeoutSeconds` bounds each call.
    public init(socketPath: String, timeoutSeconds: Double = 30) throws(VarlinkClientError) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
        try connect()
    }

    deinit { disconnect() }

    /// Calls `method` and returns the parameters of its reply.
    public func call(_ method: String, _ parameters: [String: JSONValue] = [:]) throws(VarlinkClientError) -> [String: JSONValue] {
        let deadline = monotonicSeconds() + timeoutSeconds
        try send(VarlinkCall(method: method, parameters: parameters), deadline: deadline)
        let reply = try receiveReply(deadline: deadline)
        guard !reply.continues else {
            disconnect()
            throw .protocolError("\(method) sent several replies to a call without \"more\"")
        }
        return reply.parameters
    }

    /// Streams replies of a "more" call; the callback returns false to stop (closes the
    /// connection). `timeoutSeconds` bounds the wait for each reply; nil waits as long
    /// as it takes (for follow and watch streams).
    public func callMore(
        _ method: String, _ parameters: [String: JSONValue] = [:], timeoutSeconds: Double? = nil,
        _ onReply: ([String: JSONValue]) -> Bool
    ) throws(VarlinkClientError) {
        try send(VarlinkCall(method: method, parameters: parameters, more: true), deadline: monotonicSeconds() + self.timeoutSeconds)
        while true {
            let deadline = timeoutSeconds.map { monotonicSeconds() + $0 } ?? .infinity
            let reply = try receiveReply(deadline: deadline)
            guard onReply(reply.parameters) else { return disconnect() }
            if !reply.continues { return }
        }
    }

    // MARK: Connection

    private func connect() throws(VarlinkClientError) {
        do throws(SystemError) {
            // Blocking connect waits out a full backlog; reads and writes then poll.
            let connected = try UnixSocket.connect(path: socketPath, nonBlocking: false)
            do {
                try UnixSocket.setNonBlocking(connected)
            } catch {
                UnixSocket.closeDescriptor(connected)
                throw error
            }
            descriptor = connected
            decoder = VarlinkFrameDecoder(maxMessageBytes: Self.maxReplyBytes)
        } catch {
            throw .unreachable(path: socketPath, error)
        }
    }

    private func disconnect() {
        guard let descriptor else { return }
        UnixSocket.closeDescriptor(descriptor)
        self.descriptor = nil
    }

    /// Fails the call: drops the connection, whose state is now unknown.
    private func fail(_ error: VarlinkClientError) -> VarlinkClientError {
        disconnect()
        return error
    }

    /// Waits until `descriptor` is ready for `events` or the deadline passes.
    private func wait(_ descriptor: Int32, for events: Int32, deadline: Double) throws(VarlinkClientError) {
        var descriptors = [pollfd(fd: descriptor, events: Int16(events), revents: 0)]
        let remaining = deadline - monotonicSeconds()
        guard remaining > 0 else { throw fail(.timedOut) }
        let timeout = remaining.isFinite ? Int32(min(remaining * 1000, 600_000).rounded(.up)) : -1
        do {
            try UnixSocket.poll(&descriptors, timeoutMilliseconds: timeout)
        } catch {
            throw fail(.protocolError("poll: \(error.reason)"))
        }
        if descriptors[0].revents == 0 && remaining.isFinite && monotonicSeconds() >= deadline {
            throw fail(.timedOut)
        }
    }

    private func send(_ call: VarlinkCall, deadline: Double) throws(VarlinkClientError) {
        if descriptor == nil { try connect() }
        guard let descriptor else { preconditionFailure("connect() left no descriptor") }
        let bytes = call.encoded()
        var offset = 0
        while offset < bytes.count {
            let sent: Int
            do {
                sent = try UnixSocket.send(descriptor, bytes[offset...])
            } catch {
                throw fail(.protocolError("sending \(call.method): \(error.reason)"))
            }
            offset += sent
            if sent == 0 { try wait(descriptor, for: Int32(POLLOUT), deadline: deadline) }
        }
    }

    private func receiveReply(deadline: Double) throws(VarlinkClientError) -> VarlinkReply {
        guard let descriptor else { preconditionFailure("receiveReply without a connection") }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let message: [UInt8]?
            do {
                message = try decoder.nextMessage()
            } catch {
                throw fail(.protocolError(error.message))
            }
            if let message { return try decodeReply(message) }
            let result: UnixSocket.ReceiveResult
            do {
                result = try UnixSocket.receive(descriptor, into: &buffer)
            } catch {
                throw fail(.protocolError("connection lost: \(error.reason)"))
            }
            switch result {
            case .bytes(let bytes): decoder.append(bytes)
            case .wouldBlock: try wait(descriptor, for: Int32(POLLIN), deadline: deadline)
            case .endOfStream: throw fail(.protocolError("flowd closed the connection"))
            }
        }
    }

    private func decodeReply(_ message: [UInt8]) throws(VarlinkClientError) -> VarlinkReply {
        let reply: VarlinkReply
        do {
            reply = try VarlinkReply.decode(try JSONValue.parse(message))
        } catch let error as JSONError {
            throw fail(.protocolError(error.description))
        } catch {
            throw fail(.protocolError("\(error)"))
        }
        if let name = reply.error {
            if reply.continues { disconnect() }
            throw .remote(name: name, parameters: reply.parameters)
        }
        return reply
    }
}
