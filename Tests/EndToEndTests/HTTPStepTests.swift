// End to end: http steps against a local server the test starts on 127.0.0.1.

import DaemonCore
import Foundation
import XCTest

final class HTTPStepTests: XCTestCase {
    func testHTTPStepSendsInterpolatedRequestAndExposesTheResponse() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../DaemonCoreTests/HTTP/Support/test_server.py").standardized.path
        let log = NSTemporaryDirectory() + "flowd-http-\(UUID().uuidString.prefix(8)).log"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", script, log]
        let input = Pipe(), output = Pipe()
        server.standardInput = input
        server.standardOutput = output
        try server.run()
        defer {
            try? input.fileHandleForWriting.close()
            server.waitUntilExit()
            try? FileManager.default.removeItem(atPath: log)
        }
        var portLine = Data()
        while !portLine.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            portLine.append(chunk)
        }
        let port = try XCTUnwrap(Int(String(decoding: portLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))

        let flowd = try FlowdHarness(workflows: ["call.yaml": """
            on: { spool: { format: json } }
            steps:
              - id: call
                http:
                  method: POST
                  url: "http://127.0.0.1:\(port)/json"
                  headers: { X-Run: "{{ run.id }}" }
                  query: { who: "{{ trigger.payload.name }}" }
                  body: { name: "{{ trigger.payload.name }}", count: "{{ trigger.payload.count }}" }
              - id: use
                run: echo "{{ steps.call.output.status }} {{ steps.call.output.body.message }} {{ steps.call.output.body.items[1] }}"
              - id: unavailable
                http: { url: "http://127.0.0.1:\(port)/status/503" }
                retry: { max_attempts: 3, initial: 50ms, non_retryable: [503] }
                continue_on_error: true
            """])
        try flowd.start()
        try flowd.drop(#"{"name": "ada", "count": 2}"#, workflow: "call", name: "req.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["step"] }, ["call", "use", "unavailable"])
        XCTAssertEqual(attempts[0]["output"]?["status"], 200)
        XCTAssertEqual(attempts[1]["stdout"], "200 hello 2\n")
        XCTAssertEqual(attempts[2]["status"], "failed")
        XCTAssertEqual(attempts[2]["error"], "HTTP 503 (expected a 2xx status)")
        XCTAssertEqual(attempts[2]["retry_reason"], "503 is non-retryable; no further attempt")

        let requests = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        let post = try XCTUnwrap(requests.first { $0["method"] == "POST" })
        XCTAssertEqual(post["path"], "/json")
        XCTAssertEqual(post["query"], "who=ada")
        XCTAssertEqual(post["headers"]?["x-run"], "1")
        XCTAssertEqual(post["headers"]?["content-type"], "application/json")
        XCTAssertEqual(try JSONValue.parse(post["body"]?.stringValue ?? ""), ["name": "ada", "count": 2])
    }
}
