// HTTPTestServer.swift: starts Support/test_server.py on an ephemeral 127.0.0.1 port
// for one test and reads back the requests it recorded. The server exits when its
// stdin closes (stop(), or this process dying) and after 60 s at most.

import Foundation
import XCTest

@testable import DaemonCore

#if canImport(Glibc)
import Glibc
#endif

final class HTTPTestServer {
    let port: Int
    private let process: Process
    private let input: Pipe
    private let logPath: String

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Support/test_server.py").path
        logPath = NSTemporaryDirectory() + "flowd-http-\(getpid())-\(UUID().uuidString).jsonl"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, logPath]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()

        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw XCTSkip("test_server.py did not start (python3 missing?): \(text)")
        }
        self.port = port
    }

    /// http://127.0.0.1:PORT followed by `path`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// The requests recorded so far, oldest first.
    func requests() throws -> [JSONValue] {
        let text = try String(contentsOfFile: logPath, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }

    /// The body bytes each /big answer wrote before it ended or was cut off, waiting up
    /// to `timeout` for `count` of them to be known.
    func bigBodyBytesSent(count: Int = 1, timeout: Duration = .seconds(5)) -> [Int] {
        let deadline = ContinuousClock.now + timeout
        var sizes: [Int] = []
        repeat {
            let text = (try? String(contentsOfFile: logPath + ".sent", encoding: .utf8)) ?? ""
            sizes = text.split(separator: "\n").compactMap { Int($0) }
            if sizes.count >= count { break }
            Thread.sleep(forTimeInterval: 0.02)
        } while ContinuousClock.now < deadline
        return sizes
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: logPath)
        try? FileManager.default.removeItem(atPath: logPath + ".sent")
    }

    /// A 127.0.0.1 port that nothing listens on: bound, then closed again.
    static func closedPort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0, "socket failed")
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        precondition(bound, "bind failed")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// This process's peak resident set size (VmHWM) in bytes.
    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])
        else { return 0 }
        return kilobytes * 1024
    }
}
