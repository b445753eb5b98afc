// VarlinkServerTests.swift: the Varlink server and client end to end on a temp socket,
// plus the test handler and raw-socket helpers the other Varlink tests share.
import Dispatch
import Foundation
import XCTest

@testable import DaemonCore

#if canImport(Glibc)
import Glibc
#endif

/// A small interface exercising every way a handler can answer.
final class VarlinkTestHandler: VarlinkInterfaceHandler {
    let interfaceName = "io.flowd.Test"
    let interfaceDescription = """
        interface io.flowd.Test

        method Echo(value: ?object) -> (value: ?object)
        method Fail() -> ()
        method Count(n: int) -> (i: int)
        method Peer() -> (pid: int, uid: int, gid: int, groups: []int)
        method Later(delay: float, value: int) -> (value: int)
        method Forever() -> (i: int)
        method Big() -> (data: string)
          method  Indented() -> ()

        error Failed (reason: string)
        """
    /// Signalled when a streaming producer saw its client go away.
    let producerStopped = DispatchSemaphore(value: 0)

    func handle(_ call: VarlinkCall, peer: PeerCredentials, reply: VarlinkReplySink) {
        switch call.methodName {
        case "Echo":
            reply.reply(["value": call.parameters["value"] ?? .null])
        case "Fail":
            reply.error("io.flowd.Test.Failed", ["reason": "asked to"])
        case "Count":
            let count = call.parameters["n"]?.intValue ?? 0
            for index in 1...max(count, 1) {
                reply.reply(["i": .int(index)], continues: index < count)
            }
        case "Peer":
            reply.reply([
                "pid": .int(Int64(peer.pid)), "uid": .int(Int64(peer.uid)), "gid": .int(Int64(peer.gid)),
                "groups": .array(peer.supplementaryGroups.map { .int(Int64($0)) }),
            ])
        case "Later":
            let delay: Double =
                switch call.parameters["delay"] {
                case .double(let seconds)?: seconds
                case .int(let seconds)?: Double(seconds)
                default: 0.2
                }
            let value = call.parameters["value"] ?? 0
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                reply.reply(["value": value])
                reply.reply(["value": "ignored: after the final reply"])
            }
        case "Forever", "Big":
            let chunk = String(repeating: "x", count: call.methodName == "Big" ? 16 * 1024 : 1)
            let stopped = producerStopped
            DispatchQueue.global().async {
                var index: Int64 = 0
                while !reply.isClosed {
                    index += 1
                    reply.reply(["i": .int(index), "data": .string(chunk)], continues: true)
                    usleep(1000)  // the producer's own pace, not a test synchronisation
                }
                stopped.signal()
            }
        default:
            reply.reply([:])
        }
    }
}

/// A server on a socket in a fresh temporary directory.
final class VarlinkTestServer {
    let directory: String
    let path: String
    let server: VarlinkServer
    let handler = VarlinkTestHandler()

    init(limits: VarlinkServerLimits = .init()) throws {
        var template = Array("/tmp/flowd-varlink-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemError(call: "mkdtemp", errno: errno) }
        directory = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        path = directory + "/control.sock"
        let descriptor = try VarlinkServer.bindUnixSocket(path: path)
        let info = VarlinkServiceInfo(vendor: "flowd project", product: "flowd", version: "0.1", url: "https://flowd.example")
        server = VarlinkServer(listeningDescriptor: descriptor, info: info, handlers: [handler], limits: limits)
        try server.start()
    }

    func client() throws -> VarlinkClient { try VarlinkClient(socketPath: path, timeoutSeconds: 10) }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A blocking socket that sends whatever bytes a test wants, valid or not.
final class RawVarlinkConnection {
    let descriptor: Int32
    private var received: [UInt8] = []

    init(path: String) throws {
        descriptor = try UnixSocket.connect(path: path, nonBlocking: false)
    }

    deinit { close() }

    private var isOpen = true

    func close() {
        if isOpen { UnixSocket.closeDescriptor(descriptor) }
        isOpen = false
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count, let sent = try? UnixSocket.send(descriptor, bytes[offset...]), sent > 0 {
            offset += sent
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads until the server closes (EOF or reset) or the timeout passes; returns the
    /// messages received and whether the server closed.
    func readUntilClosed(timeout: Double = 5) -> (messages: [JSONValue], closed: Bool) {
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while monotonicSeconds() < deadline {
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            try? UnixSocket.poll(&descriptors, timeoutMilliseconds: Int32((deadline - monotonicSeconds()) * 1000) + 1)
            guard descriptors[0].revents != 0 else { continue }
            switch try? UnixSocket.receive(descriptor, into: &buffer) {
            case .bytes(let bytes): received.append(contentsOf: bytes)
            case .wouldBlock: continue
            case .endOfStream, nil: return (messages(), true)
            }
        }
        return (messages(), false)
    }

    /// Reads until `count` messages have arrived (or the timeout passes).
    func readMessages(_ count: Int, timeout: Double = 5) -> [JSONValue] {
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.filter({ $0 == 0 }).count < count && monotonicSeconds() < deadline {
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            try? UnixSocket.poll(&descriptors, timeoutMilliseconds: Int32((deadline - monotonicSeconds()) * 1000) + 1)
            guard descriptors[0].revents != 0 else { continue }
            guard case .bytes(let bytes) = try? UnixSocket.receive(descriptor, into: &buffer) else { break }
            received.append(contentsOf: bytes)
        }
        return messages()
    }

    private func messages() -> [JSONValue] {
        received.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
            (try? JSONValue.parse($0)) ?? .string("unparsable: \(String(decoding: $0, as: UTF8.self))")
        }
    }
}

final class VarlinkServerTests: XCTestCase {
    private var testServer: VarlinkTestServer!

    override func setUpWithError() throws {
        testServer = try VarlinkTestServer()
    }

    override func tearDown() {
        testServer.stop()
    }

    private func remoteError(_ body: () throws -> Void) -> (name: String, parameters: [String: JSONValue])? {
        do {
            try body()
        } catch VarlinkClientError.remote(let name, let parameters) {
            return (name, parameters)
        } catch {
            XCTFail("expected an error reply, got \(error)")
        }
        return nil
    }

    func testGetInfo() throws {
        let info = try testServer.client().call("org.varlink.service.GetInfo")
        XCTAssertEqual(
            JSONValue.object(info).serialized(),
            #"{"interfaces":["org.varlink.service","io.flowd.Test"],"product":"flowd","url":"https://flowd.example","#
                + #""vendor":"flowd project","version":"0.1"}"#)
    }

    func testGetInterfaceDescription() throws {
        let client = try testServer.client()
        let own = try client.call("org.varlink.service.GetInterfaceDescription", ["interface": "io.flowd.Test"])
        XCTAssertEqual(own["description"]?.stringValue, testServer.handler.interfaceDescription)
        let service = try client.call("org.varlink.service.GetInterfaceDescription", ["interface": "org.varlink.service"])
        XCTAssertTrue(service["description"]?.stringValue?.contains("method GetInfo()") ?? false)
        let missing = remoteError { _ = try client.call("org.varlink.service.GetInterfaceDescription", ["interface": "no.Such"]) }
        XCTAssertEqual(missing?.name, "org.varlink.service.InterfaceNotFound")
        XCTAssertEqual(missing?.parameters, ["interface": "no.Such"])
        let noParameter = remoteError { _ = try client.call("org.varlink.service.GetInterfaceDescription") }
        XCTAssertEqual(noParameter?.name, "org.varlink.service.InvalidParameter")
        XCTAssertEqual(noParameter?.parameters, ["parameter": "interface"])
    }

    func testCallAndErrorReplyOnOneConnection() throws {
        let client = try testServer.client()
        let value: JSONValue = ["n": 1, "x": 1.0, "s": "é\u{0}", "list": [true, nil]]
        XCTAssertEqual(try client.call("io.flowd.Test.Echo", ["value": value]), ["value": value])
        let failure = remoteError { _ = try client.call("io.flowd.Test.Fail") }
        XCTAssertEqual(failure?.name, "io.flowd.Test.Failed")
        XCTAssertEqual(failure?.parameters, ["reason": "asked to"])
        XCTAssertEqual(try client.call("io.flowd.Test.Echo", ["value": 2]), ["value": 2], "connection still usable")
        XCTAssertEqual(try client.call("io.flowd.Test.Indented"), [:], "indented IDL lines declare methods too")
    }

    func testMoreStreamsThreeReplies() throws {
        var seen: [JSONValue] = []
        try testServer.client().callMore("io.flowd.Test.Count", ["n": 3]) { reply in
            seen.append(reply["i"] ?? .null)
            return true
        }
        XCTAssertEqual(seen, [1, 2, 3])
    }

    func testContinuingReplyToCallWithoutMoreIsExpectedMoreError() throws {
        let error = remoteError { _ = try testServer.client().call("io.flowd.Test.Count", ["n": 3]) }
        XCTAssertEqual(error?.name, "org.varlink.service.ExpectedMore")
    }

    func testUnknownMethodAndInterface() throws {
        let client = try testServer.client()
        let method = remoteError { _ = try client.call("io.flowd.Test.Nope") }
        XCTAssertEqual(method?.name, "org.varlink.service.MethodNotFound")
        XCTAssertEqual(method?.parameters, ["method": "io.flowd.Test.Nope"])
        let interface = remoteError { _ = try client.call("io.flowd.Other.Echo") }
        XCTAssertEqual(interface?.name, "org.varlink.service.InterfaceNotFound")
        XCTAssertEqual(interface?.parameters, ["interface": "io.flowd.Other"])
        let serviceMethod = remoteError { _ = try client.call("org.varlink.service.Nope") }
        XCTAssertEqual(serviceMethod?.name, "org.varlink.service.MethodNotFound")
    }

    func testHandlerSeesPeerCredentials() throws {
        let peer = try testServer.client().call("io.flowd.Test.Peer")
        XCTAssertEqual(peer["pid"], .int(Int64(getpid())))
        XCTAssertEqual(peer["uid"], .int(Int64(getuid())))
        XCTAssertEqual(peer["gid"], .int(Int64(getgid())))
        var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)))
        groups = Array(groups.prefix(Int(getgroups(Int32(groups.count), &groups))))
        let seen = peer["groups"]?.arrayValue?.compactMap { $0.intValue }.map { gid_t($0) } ?? []
        XCTAssertEqual(seen.sorted(), groups.sorted())
    }

    func testReplyFromAnotherThreadAfterDelayAndCallsStayInOrder() throws {
        let connection = try RawVarlinkConnection(path: testServer.path)
        connection.send(
            VarlinkCall(method: "io.flowd.Test.Later", parameters: ["delay": 0.3, "value": 1]).encoded()
                + VarlinkCall(method: "io.flowd.Test.Echo", parameters: ["value": 2]).encoded())
        let started = monotonicSeconds()
        let replies = connection.readMessages(2)
        XCTAssertEqual(replies.map { $0["parameters"]?["value"] }, [1, 2], "replies in call order, the late one dropped")
        XCTAssertGreaterThanOrEqual(monotonicSeconds() - started, 0.25)
        XCTAssertEqual(connection.readMessages(3, timeout: 0.3).count, 2, "nothing after the final reply")
    }

    func testOnewayCallGetsNoReply() throws {
        let connection = try RawVarlinkConnection(path: testServer.path)
        connection.send(
            VarlinkCall(method: "io.flowd.Test.Echo", parameters: ["value": 1], oneway: true).encoded()
                + VarlinkCall(method: "io.flowd.Test.Echo", parameters: ["value": 2]).encoded())
        XCTAssertEqual(connection.readMessages(1), [["parameters": ["value": 2]]])
    }

    func testStoppingAStreamClosesItForTheProducer() throws {
        var count = 0
        try testServer.client().callMore("io.flowd.Test.Forever") { _ in
            count += 1
            return count < 3
        }
        XCTAssertEqual(count, 3)
        XCTAssertEqual(testServer.handler.producerStopped.wait(timeout: .now() + 5), .success)
    }

    func testHalfClosedClientStillGetsItsReply() throws {
        let connection = try RawVarlinkConnection(path: testServer.path)
        connection.send(VarlinkCall(method: "io.flowd.Test.Later", parameters: ["delay": 0.1, "value": 7]).encoded())
        shutdown(connection.descriptor, Int32(SHUT_WR))
        let result = connection.readUntilClosed()
        XCTAssertEqual(result.messages, [["parameters": ["value": 7]]])
        XCTAssertTrue(result.closed, "closed once the call is answered")
    }

    func testClientReconnectsAfterServerRestartAndReportsUnreachable() throws {
        let client = try testServer.client()
        XCTAssertNoThrow(try client.call("io.flowd.Test.Echo"))
        testServer.stop()
        XCTAssertThrowsError(try client.call("io.flowd.Test.Echo"))
        XCTAssertThrowsError(try VarlinkClient(socketPath: testServer.path)) { error in
            XCTAssertEqual("\(error)", "flowd is not running (no socket at \(self.testServer.path))")
        }
    }
}
