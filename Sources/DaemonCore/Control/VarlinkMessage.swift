// VarlinkMessage.swift: Varlink calls and replies, and the NUL framing between them.
//
// A Varlink message is one JSON object followed by a NUL byte (https://varlink.org).
// Decoding checks the shape of a message and throws VarlinkProtocolError naming what is
// wrong; the frame decoder refuses a message longer than its limit as soon as the
// buffered bytes pass it, so a peer cannot make us buffer without bound.

/// A message that breaks the Varlink protocol: not JSON, wrong shape, too long.
public struct VarlinkProtocolError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "varlink protocol error: \(message)" }
}

/// A method call: `{"method":"iface.Method","parameters":{...},"more":true,...}`.
public struct VarlinkCall: Sendable, Equatable {
    /// Fully qualified method name, e.g. `io.flowd.Control.ListRuns`.
    public var method: String
    public var parameters: [String: JSONValue]
    /// The client accepts several replies (`continues: true` on all but the last).
    public var more: Bool
    /// The client wants no reply at all.
    public var oneway: Bool
    /// The client wants to switch the connection to another protocol (unsupported).
    public var upgrade: Bool

    public init(
        method: String, parameters: [String: JSONValue] = [:], more: Bool = false,
        oneway: Bool = false, upgrade: Bool = false
    ) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
        self.upgrade = upgrade
    }

    /// The interface part: "io.flowd.Control" of "io.flowd.Control.ListRuns".
    public var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// The method part: "ListRuns" of "io.flowd.Control.ListRuns".
    public var methodName: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }

    /// Reads a call from a decoded message; throws when the shape is wrong.
    public static func decode(_ message: JSONValue) throws(VarlinkProtocolError) -> VarlinkCall {
        guard let members = message.objectValue else { throw VarlinkProtocolError("message is not a JSON object") }
        guard let method = members["method"]?.stringValue else {
            throw VarlinkProtocolError("call has no \"method\" string")
        }
        guard let dot = method.lastIndex(of: "."), dot != method.startIndex,
            method.index(after: dot) != method.endIndex
        else { throw VarlinkProtocolError("method \"\(method)\" is not of the form interface.Method") }
        return VarlinkCall(
            method: method,
            parameters: try decodeParameters(members["parameters"]),
            more: try decodeFlag(members, "more"),
            oneway: try decodeFlag(members, "oneway"),
            upgrade: try decodeFlag(members, "upgrade"))
    }

    /// The message bytes, NUL terminator included.
    public func encoded() -> [UInt8] {
        var members: [String: JSONValue] = ["method": .string(method), "parameters": .object(parameters)]
        if more { members["more"] = true }
        if oneway { members["oneway"] = true }
        if upgrade { members["upgrade"] = true }
        return JSONValue.object(members).serializedBytes() + [0]
    }
}

/// A reply: `{"parameters":{...},"continues":true}` or `{"error":"iface.Name","parameters":{...}}`.
public struct VarlinkReply: Sendable, Equatable {
    public var parameters: [String: JSONValue]
    /// More replies to the same call follow.
    public var continues: Bool
    /// The fully qualified error name, when this reply is an error.
    public var error: String?

    public init(parameters: [String: JSONValue] = [:], continues: Bool = false, error: String? = nil) {
        self.parameters = parameters
        self.continues = continues
        self.error = error
    }

    /// Reads a reply from a decoded message; throws when the shape is wrong.
    public static func decode(_ message: JSONValue) throws(VarlinkProtocolError) -> VarlinkReply {
        guard let members = message.objectValue else { throw VarlinkProtocolError("message is not a JSON object") }
        var error: String?
        if let value = members["error"], !value.isNull {
            guard let name = value.stringValue else { throw VarlinkProtocolError("\"error\" is not a string") }
            error = name
        }
        return VarlinkReply(
            parameters: try decodeParameters(members["parameters"]),
            continues: try decodeFlag(members, "continues"),
            error: error)
    }

    /// The message bytes, NUL terminator included.
    public func encoded() -> [UInt8] {
        var members: [String: JSONValue] = ["parameters": .object(parameters)]
        if continues { members["continues"] = true }
        if let error { members["error"] = .string(error) }
        return JSONValue.object(members).serializedBytes() + [0]
    }
}

private func decodeParameters(_ value: JSONValue?) throws(VarlinkProtocolError) -> [String: JSONValue] {
    guard let value, !value.isNull else { return [:] }
    guard let parameters = value.objectValue else { throw VarlinkProtocolError("\"parameters\" is not an object") }
    return parameters
}

private func decodeFlag(_ members: [String: JSONValue], _ key: String) throws(VarlinkProtocolError) -> Bool {
    guard let value = members[key], !value.isNull else { return false }
    guard let flag = value.boolValue else { throw VarlinkProtocolError("\"\(key)\" is not a boolean") }
    return flag
}

/// Splits a byte stream into NUL-terminated messages; refuses a message longer than
/// `maxMessageBytes` (even before its NUL arrives). After a refusal the decoder stays
/// failed: the stream cannot be resynchronised, so the connection should be closed.
public struct VarlinkFrameDecoder: Sendable {
    private let maxMessageBytes: Int
    /// Received bytes; those before `messageStart` were already handed out.
    private var buffer: [UInt8] = []
    private var messageStart = 0
    /// Bytes from `messageStart` up to here are known to hold no NUL.
    private var scannedUpTo = 0
    private var failure: VarlinkProtocolError?

    public init(maxMessageBytes: Int) {
        precondition(maxMessageBytes > 0, "maxMessageBytes must be positive")
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes received but not yet returned as a message.
    public var bufferedByteCount: Int { buffer.count - messageStart }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failure == nil else { return }
        if messageStart > 0 && messageStart >= buffer.count / 2 {
            buffer.removeSubrange(0..<messageStart)
            scannedUpTo -= messageStart
            messageStart = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message without its NUL, or nil when none is complete yet.
    public mutating func nextMessage() throws(VarlinkProtocolError) -> [UInt8]? {
        if let failure { throw failure }
        if let terminator = buffer[scannedUpTo...].firstIndex(of: 0) {
            guard terminator - messageStart <= maxMessageBytes else { return try fail() }
            let message = Array(buffer[messageStart..<terminator])
            messageStart = terminator + 1
            scannedUpTo = messageStart
            return message
        }
        scannedUpTo = buffer.count
        if buffer.count - messageStart > maxMessageBytes { return try fail() }
        return nil
    }

    private mutating func fail() throws(VarlinkProtocolError) -> [UInt8]? {
        let error = VarlinkProtocolError("message longer than \(maxMessageBytes) bytes")
        failure = error
        buffer = []
        messageStart = 0
        scannedUpTo = 0
        throw error
    }
}
