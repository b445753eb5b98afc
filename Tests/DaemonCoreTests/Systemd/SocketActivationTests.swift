// SocketActivationTests.swift: flowd picks up the control socket systemd passes as
// fd 3 (LISTEN_FDS/LISTEN_PID), refuses unusable hand-overs with a clear error, and
// returns nil when not socket-activated. fd 3 of the test process belongs to the
// runtime, so the checks on a real socket go through the internal entry point that
// takes the descriptor; a real systemd-socket-activate run is the end-to-end suite's.

import Foundation
import XCTest
@testable import DaemonCore

final class SocketActivationTests: XCTestCase {
    private var socketPaths: [String] = []

    override func tearDown() {
        for variable in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] { unsetenv(variable) }
        for path in socketPaths { unlink(path) }
        socketPaths = []
    }

    func testNotSocketActivatedGivesNil() throws {
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        XCTAssertNil(try SocketActivation.controlSocket())
    }

    func testDescriptorsMeantForAnotherProcessAreIgnored() throws {
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_PID", "\(getpid() + 1)", 1)
        XCTAssertNil(try SocketActivation.controlSocket())
    }

    func testActivationWithUnusableFd3IsReportedAndClearsTheEnvironment() throws {
        // In the test process fd 3 is the runtime's eventfd, not a socket: exactly the
        // "unit passed the wrong thing" case, through the real sd_listen_fds.
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_PID", "\(getpid())", 1)
        XCTAssertThrowsError(try SocketActivation.controlSocket()) { error in
            XCTAssertTrue("\(error)".contains("descriptor 3 is not a listening AF_UNIX stream socket"), "\(error)")
        }
        XCTAssertNil(getenv("LISTEN_FDS"), "LISTEN_FDS must not leak into children")
        XCTAssertNil(getenv("LISTEN_PID"), "LISTEN_PID must not leak into children")
    }

    func testListeningUnixStreamSocketIsTheControlSocket() throws {
        let descriptor = try makeSocket(type: SOCK_STREAM, listening: true)
        defer { close(descriptor) }
        XCTAssertEqual(try SocketActivation.controlSocket(passedDescriptorCount: 1, firstDescriptor: descriptor), descriptor)
    }

    func testNoDescriptorsPassedGivesNil() throws {
        XCTAssertNil(try SocketActivation.controlSocket(passedDescriptorCount: 0, firstDescriptor: 3))
    }

    func testUnusableHandOversAreRefusedWithTheReason() throws {
        let stream = try makeSocket(type: SOCK_STREAM, listening: false)
        let datagram = try makeSocket(type: SOCK_DGRAM, listening: false)
        let listening = try makeSocket(type: SOCK_STREAM, listening: true)
        defer { [stream, datagram, listening].forEach { close($0) } }
        for descriptor in [stream, datagram] {
            XCTAssertThrowsError(try SocketActivation.controlSocket(passedDescriptorCount: 1, firstDescriptor: descriptor)) {
                XCTAssertTrue("\($0)".contains("is not a listening AF_UNIX stream socket"), "\($0)")
            }
        }
        XCTAssertThrowsError(try SocketActivation.controlSocket(passedDescriptorCount: 2, firstDescriptor: listening)) {
            XCTAssertEqual(
                "\($0)",
                "sd_listen_fds(socket activation passed 2 descriptors; expected 1 AF_UNIX stream socket): Invalid argument")
        }
        XCTAssertThrowsError(try SocketActivation.controlSocket(passedDescriptorCount: -EBADF, firstDescriptor: listening)) {
            XCTAssertEqual(($0 as? SystemError)?.errno, EBADF)
        }
    }

    // MARK: - Helpers

    /// An AF_UNIX socket of `type`, bound under /tmp, listening when asked.
    private func makeSocket(type: __socket_type, listening: Bool) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(type.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", errno: errno) }
        let path = "/tmp/flowd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        socketPaths.append(path)
        try bindTestUnixSocket(descriptor, path: path)
        if listening, listen(descriptor, 8) != 0 { throw SystemError(call: "listen", subject: path, errno: errno) }
        return descriptor
    }
}
