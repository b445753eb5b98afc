// VarlinkServerRobustnessTests.swift: what hostile or broken clients can and cannot do
// to the Varlink server, and how the control socket file is created.
import Dispatch
import Foundation
import XCTest

@testable import DaemonCore

#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64: a seeded generator, so a failing fuzz run can be replayed.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

final class VarlinkServerRobustnessTests: XCTestCase {
    private var testServer: VarlinkTestServer?

    override func tearDown() {
        testServer?.stop()
    }

    private func startServer(_ configure: (inout VarlinkServerLimits) -> Void = { _ in }) throws -> VarlinkTestServer {
        var limits = VarlinkServerLimits()
        configure(&limits)
        let server = try VarlinkTestServer(limits: limits)
        testServer = server
        return server
    }

    private let invalidParameter: JSONValue = [
        "error": "org.varlink.service.InvalidParameter", "parameters": ["parameter": "message"],
    ]

    func testGarbageGetsErrorReplyAndCloseWhileOtherClientsWork() throws {
        let server = try startServer()
        let bystander = try server.client()
        XCTAssertNoThrow(try bystander.call("io.flowd.Test.Echo"))
        for garbage in ["not json", "[1,2]", #"{"parameters":{}}"#, #"{"method":"nodot"}"#, "{\"method\":\"a.B\"", "\u{FF}"] {
            let connection = try RawVarlinkConnection(path: server.path)
            // A valid call first: it is answered before the garbage behind it is refused.
            connection.send(VarlinkCall(method: "io.flowd.Test.Echo", parameters: ["value": 1]).encoded())
            connection.send(Array(garbage.utf8) + [0] + VarlinkCall(method: "io.flowd.Test.Echo").encoded())
            let result = connection.readUntilClosed()
            XCTAssertEqual(result.messages, [["parameters": ["value": 1]], invalidParameter], garbage)
            XCTAssertTrue(result.closed, "connection closed after garbage \(garbage)")
            XCTAssertEqual(try bystander.call("io.flowd.Test.Echo", ["value": 3]), ["value": 3])
        }
    }

    func testOversizedMessageGetsErrorReplyAndClose() throws {
        let server = try startServer { $0.maxMessageBytes = 1024 }
        let connection = try RawVarlinkConnection(path: server.path)
        connection.send([UInt8](repeating: UInt8(ascii: " "), count: 2000))  // no terminator yet
        let result = connection.readUntilClosed()
        XCTAssertEqual(result.messages, [invalidParameter])
        XCTAssertTrue(result.closed)

        let client = try server.client()
        let fits = String(repeating: "y", count: 900)
        XCTAssertEqual(try client.call("io.flowd.Test.Echo", ["value": .string(fits)]), ["value": .string(fits)])
    }

    func testHalfMessagesThenDisconnectFreeTheirSlots() throws {
        let server = try startServer { $0.maxConnectionsPerUID = 2 }
        for _ in 0..<5 {
            let connection = try RawVarlinkConnection(path: server.path)
            connection.send(#"{"method":"io.flowd.Test.Ec"#)
            connection.close()
        }
        XCTAssertEqual(try server.client().call("io.flowd.Test.Echo", ["value": 1]), ["value": 1])
    }

    func testPerUIDConnectionCap() throws {
        let server = try startServer { $0.maxConnectionsPerUID = 2 }
        var first: VarlinkClient? = try server.client()
        let second = try server.client()
        XCTAssertNoThrow(try first?.call("io.flowd.Test.Echo"))
        XCTAssertNoThrow(try second.call("io.flowd.Test.Echo"))

        let third = try RawVarlinkConnection(path: server.path)  // the kernel accepts; flowd closes
        third.send(VarlinkCall(method: "io.flowd.Test.Echo").encoded())
        let refused = third.readUntilClosed()
        XCTAssertEqual(refused.messages, [], "no handler call for a connection over the cap")
        XCTAssertTrue(refused.closed)

        first = nil  // frees a slot
        XCTAssertEqual(try server.client().call("io.flowd.Test.Echo", ["value": 1]), ["value": 1])
        XCTAssertNoThrow(try second.call("io.flowd.Test.Echo"), "connections within the cap still work")
    }

    func testTotalConnectionCap() throws {
        let server = try startServer { $0.maxConnections = 1 }
        let first = try server.client()
        XCTAssertNoThrow(try first.call("io.flowd.Test.Echo"))
        let second = try RawVarlinkConnection(path: server.path)
        XCTAssertTrue(second.readUntilClosed().closed)
    }

    func testIdleConnectionIsClosed() throws {
        let server = try startServer { $0.idleTimeoutSeconds = 1 }
        let connection = try RawVarlinkConnection(path: server.path)
        let started = monotonicSeconds()
        XCTAssertTrue(connection.readUntilClosed(timeout: 5).closed)
        XCTAssertGreaterThanOrEqual(monotonicSeconds() - started, 0.9)
    }

    func testStreamingCallIsNotIdle() throws {
        let server = try startServer { $0.idleTimeoutSeconds = 1 }
        var count = 0
        let started = monotonicSeconds()
        try server.client().callMore("io.flowd.Test.Forever") { _ in
            count += 1
            return monotonicSeconds() - started < 1.5
        }
        XCTAssertGreaterThan(count, 10, "the stream outlived the idle timeout")
    }

    func testSlowReaderIsDisconnected() throws {
        let server = try startServer { $0.maxPendingOutputBytes = 256 * 1024 }
        let connection = try RawVarlinkConnection(path: server.path)
        connection.send(VarlinkCall(method: "io.flowd.Test.Big", more: true).encoded())
        // Never read: the producer must learn that the client is gone.
        XCTAssertEqual(server.handler.producerStopped.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(try server.client().call("io.flowd.Test.Echo", ["value": 1]), ["value": 1])
    }

    func testFuzzedBlobsDoNotDisturbTheServer() throws {
        let server = try startServer()
        var generator = SeededGenerator(state: 20_240_601)
        let valid = Array(VarlinkCall(method: "io.flowd.Test.Echo", parameters: ["value": ["a": [1, 2.5]]]).encoded())
        for round in 0..<200 {
            var blob: [UInt8]
            if round.isMultiple(of: 2) {
                blob = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                blob = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    blob[Int.random(in: 0..<blob.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let connection = try RawVarlinkConnection(path: server.path)
            connection.send(blob)
            if blob.contains(0) {
                let result = connection.readUntilClosed(timeout: 0.2)
                for message in result.messages {
                    XCTAssertNoThrow(try VarlinkReply.decode(message), "round \(round): reply \(message)")
                }
            }
            connection.close()
        }
        XCTAssertEqual(try server.client().call("io.flowd.Test.Echo", ["value": 1]), ["value": 1])
    }

    func testBindUnixSocketReplacesStaleSocketAndRefusesOthers() throws {
        let server = try startServer()
        let refused = { (path: String) -> String in
            do {
                let descriptor = try VarlinkServer.bindUnixSocket(path: path)
                UnixSocket.closeDescriptor(descriptor)
                return "bound"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(
            refused(server.path), "bind(another flowd is already listening on \(server.path)): Address already in use")

        let plainFile = server.directory + "/plain"
        XCTAssertTrue(FileManager.default.createFile(atPath: plainFile, contents: Data("keep me".utf8)))
        XCTAssertEqual(refused(plainFile), "bind(\(plainFile) exists and is not a socket): File exists")
        XCTAssertEqual(FileManager.default.contents(atPath: plainFile), Data("keep me".utf8))

        server.server.stop()  // leaves a stale socket file behind
        let descriptor = try VarlinkServer.bindUnixSocket(path: server.path, mode: 0o660)
        defer { UnixSocket.closeDescriptor(descriptor) }
        var status = stat()
        XCTAssertEqual(lstat(server.path, &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o660)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFSOCK)
    }

    func testClientErrorDescriptions() {
        XCTAssertEqual(
            VarlinkClientError.unreachable(path: "/run/x", SystemError(call: "connect", errno: ENOENT)).description,
            "flowd is not running (no socket at /run/x)")
        XCTAssertEqual(
            VarlinkClientError.unreachable(path: "/run/x", SystemError(call: "connect", errno: EACCES)).description,
            "permission denied on /run/x")
        XCTAssertEqual(
            VarlinkClientError.remote(name: "io.flowd.Control.RunNotFound", parameters: ["id": 4]).description,
            #"io.flowd.Control.RunNotFound {"id":4}"#)
    }
}
