// VarlinkServer.swift: the control socket's server, its configuration and lifecycle.
//
// Modelled on OpenSMTPD's control.c: the socket is created under a tight umask, each
// connection's peer credentials are read at accept, connections are capped in total and
// per uid, and a message's length is checked before it is decoded. The event loop runs
// on one thread of its own (VarlinkServerLoop.swift); handlers are called there. Failures
// to set up throw SystemError; nothing a client sends can stop or crash the server.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// What `org.varlink.service.GetInfo` reports.
public struct VarlinkServiceInfo: Sendable {
    public var vendor: String
    public var product: String
    public var version: String
    public var url: String

    public init(vendor: String, product: String, version: String, url: String) {
        self.vendor = vendor
        self.product = product
        self.version = version
        self.url = url
    }
}

/// One Varlink interface served by the server, e.g. `io.flowd.Control`.
public protocol VarlinkInterfaceHandler: Sendable {
    /// The interface name, e.g. "io.flowd.Control".
    var interfaceName: String { get }
    /// Varlink IDL text, served by GetInterfaceDescription. The server answers calls to
    /// methods not declared here (`method Name(...)` lines) with MethodNotFound itself.
    var interfaceDescription: String { get }
    /// Handles one call. Called on the server thread: must not block long; slow work
    /// goes elsewhere and replies through `reply` later.
    func handle(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink)
}

/// Limits on what clients can make the server hold.
public struct VarlinkServerLimits: Sendable {
    /// Longest message accepted; longer ones get an error and the connection closes.
    public var maxMessageBytes = 64 * 1024
    /// Connections open at once; more are closed right after accept.
    public var maxConnections = 256
    /// Connections open at once by one uid.
    public var maxConnectionsPerUID = 32
    /// A connection with no call in progress and no traffic for this long is closed.
    public var idleTimeoutSeconds = 300
    /// A client that lets this much reply data pile up unread is disconnected.
    public var maxPendingOutputBytes = 8 * 1024 * 1024
    /// Calls read ahead while an earlier call on the same connection is still running.
    public var maxQueuedCallsPerConnection = 16

    public init() {}
}

/// The Varlink server of the control socket. `start()` runs its loop on a thread of its
/// own; `stop()` ends it. The lifecycle is guarded by the `lifecycle` mutex.
public final class VarlinkServer: Sendable {
    private enum Lifecycle {
        case created
        case running(pthread_t)
        case stopped
    }

    private let loop: VarlinkServerLoop
    private let listeningDescriptor: Int32
    private let lifecycle = Mutex(Lifecycle.created)

    /// listeningDescriptor: an already bound+listening AF_UNIX SOCK_STREAM fd (from socket
    /// activation or from bindUnixSocket). The server takes ownership.
    public init(
        listeningDescriptor: Int32, info: VarlinkServiceInfo, handlers: [VarlinkInterfaceHandler],
        limits: VarlinkServerLimits = .init()
    ) {
        precondition(limits.maxMessageBytes > 0 && limits.maxConnections > 0 && limits.maxConnectionsPerUID > 0)
        self.listeningDescriptor = listeningDescriptor
        self.loop = VarlinkServerLoop(
            listeningDescriptor: listeningDescriptor,
            router: VarlinkRouter(info: info, handlers: handlers), limits: limits)
    }

    deinit { stop() }

    /// Starts the server thread. Throws if the loop's descriptors cannot be set up.
    public func start() throws(SystemError) {
        try lifecycle.withLock { (state) throws(SystemError) in
            guard case .created = state else { preconditionFailure("VarlinkServer started twice") }
            try UnixSocket.setNonBlocking(listeningDescriptor)
            try loop.prepare()
            let box = Unmanaged.passRetained(loop).toOpaque()
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { argument in
                Unmanaged<VarlinkServerLoop>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, box)
            guard result == 0 else {
                Unmanaged<VarlinkServerLoop>.fromOpaque(box).release()
                throw SystemError(call: "pthread_create", subject: "varlink server", errno: result)
            }
            state = .running(thread)
        }
    }

    /// Closes the listener and all connections and joins the thread. Idempotent.
    public func stop() {
        let previous = lifecycle.withLock { state in
            defer { state = .stopped }
            return state
        }
        switch previous {
        case .created:
            UnixSocket.closeDescriptor(listeningDescriptor)
        case .running(let thread):
            loop.requestStop()
            pthread_join(thread, nil)
        case .stopped:
            break
        }
    }

    /// Creates the socket at path: removes a stale socket file (only if it is a socket),
    /// binds under umask 0o177 then chmods to `mode` (and chowns to `group` if given),
    /// listens; returns the descriptor. Fails clearly if path exists and is not a socket,
    /// or another live server answers there ("another flowd is already listening on PATH").
    public static func bindUnixSocket(path: String, mode: mode_t = 0o660, group: gid_t? = nil) throws(SystemError) -> Int32 {
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw SystemError(call: "bind", subject: "\(path) exists and is not a socket", errno: EEXIST)
            }
            do throws(SystemError) {
                // Non-blocking: a live server with a full backlog answers EAGAIN, not a hang.
                let probe = try UnixSocket.connect(path: path, nonBlocking: true)
                UnixSocket.closeDescriptor(probe)
                throw SystemError(call: "bind", subject: "another flowd is already listening on \(path)", errno: EADDRINUSE)
            } catch where error.errno == EAGAIN {
                throw SystemError(call: "bind", subject: "another flowd is already listening on \(path)", errno: EADDRINUSE)
            } catch where error.errno == ECONNREFUSED {
                try systemCall("unlink", path) { unlink(path) }  // stale: nobody listens
            }
        }
        let descriptor = try UnixSocket.bindAndListen(path: path, umask: 0o177, backlog: 128)
        do {
            try systemCall("chmod", path) { chmod(path, mode) }
            if let group {
                try systemCall("chown", path) { chown(path, uid_t.max, group) }
            }
        } catch {
            UnixSocket.closeDescriptor(descriptor)
            throw error
        }
        return descriptor
    }
}

/// Routes calls: answers `org.varlink.service` itself and the rest to handlers.
struct VarlinkRouter: Sendable {
    static let serviceInterface = "org.varlink.service"

    let info: VarlinkServiceInfo
    /// Handlers by interface name, in registration order.
    let handlers: [(name: String, handler: VarlinkInterfaceHandler, methods: Set<String>)]

    init(info: VarlinkServiceInfo, handlers: [VarlinkInterfaceHandler]) {
        self.info = info
        var seen = Set<String>()
        self.handlers = handlers.map { handler in
            let name = handler.interfaceName
            precondition(name != Self.serviceInterface, "\(name) is served by VarlinkServer itself")
            precondition(seen.insert(name).inserted, "two handlers for interface \(name)")
            return (name, handler, Self.declaredMethods(handler.interfaceDescription))
        }
    }

    /// Names in `method Name(...)` lines of an IDL text.
    static func declaredMethods(_ description: String) -> Set<String> {
        var names = Set<String>()
        for line in description.split(separator: "\n") {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            guard trimmed.hasPrefix("method ") else { continue }
            let name = trimmed.dropFirst("method ".count).drop(while: { $0 == " " })
                .prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
            if !name.isEmpty { names.insert(String(name)) }
        }
        return names
    }

    func route(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) {
        if call.upgrade {
            return reply.error("\(Self.serviceInterface).InvalidParameter", ["parameter": "upgrade"])
        }
        if call.interface == Self.serviceInterface {
            return answerServiceCall(call, reply: reply)
        }
        guard let entry = handlers.first(where: { $0.name == call.interface }) else {
            return reply.error("\(Self.serviceInterface).InterfaceNotFound", ["interface": .string(call.interface)])
        }
        guard entry.methods.contains(call.methodName) else {
            return reply.error("\(Self.serviceInterface).MethodNotFound", ["method": .string(call.method)])
        }
        entry.handler.handle(call, peer: peer, reply: reply)
    }

    private func answerServiceCall(_ call: VarlinkCall, reply: VarlinkReplySink) {
        switch call.methodName {
        case "GetInfo":
            let interfaces = [Self.serviceInterface] + handlers.map(\.name)
            reply.reply([
                "vendor": .string(info.vendor), "product": .string(info.product),
                "version": .string(info.version), "url": .string(info.url),
                "interfaces": .array(interfaces.map { .string($0) }),
            ])
        case "GetInterfaceDescription":
            guard let name = call.parameters["interface"]?.stringValue else {
                return reply.error("\(Self.serviceInterface).InvalidParameter", ["parameter": "interface"])
            }
            if name == Self.serviceInterface {
                return reply.reply(["description": .string(Self.serviceDescription)])
            }
            guard let entry = handlers.first(where: { $0.name == name }) else {
                return reply.error("\(Self.serviceInterface).InterfaceNotFound", ["interface": .string(name)])
            }
            reply.reply(["description": .string(entry.handler.interfaceDescription)])
        default:
            reply.error("\(Self.serviceInterface).MethodNotFound", ["method": .string(call.method)])
        }
    }

    /// The IDL of org.varlink.service, as published on varlink.org.
    static let serviceDescription = """
        # The Varlink Service Interface is provided by every varlink service. It
        # describes the service and the interfaces it implements.
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()

        """
}
