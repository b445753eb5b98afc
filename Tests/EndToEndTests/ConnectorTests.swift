// End to end: `uses:` steps of every built-in connector against a recording server the
// test starts on 127.0.0.1 (the manifests are the shipped ones with base_url pointed
// at it, installed as admin overrides), credentials from credentials_dir, mail through
// a fake sendmail, flowadm connectors, and load-time checks of `uses:` steps.

import DaemonCore
import Foundation
import XCTest

final class ConnectorTests: XCTestCase {
    /// The recording server: its port and the requests it logged.
    final class Recorder {
        let process = Process()
        let input = Pipe()
        let log = NSTemporaryDirectory() + "flowd-connector-\(UUID().uuidString.prefix(8)).log"
        var port = 0

        init() throws {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/connector_server.py").path
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, log]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { break }
                line.append(chunk)
            }
            port = try XCTUnwrap(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: log)
        }

        var requests: [JSONValue] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        }
    }

    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../etc/flowd/connectors").standardized.path

    /// A daemon whose connectors are the shipped ones aimed at the recorder, with credentials.
    func makeDaemon(_ workflows: [String: String], recorder: Recorder, credentials: [String: String]) throws -> FlowdHarness {
        let flowd = try FlowdHarness(workflows: workflows)
        let credentialsDirectory = flowd.path("credentials")
        try FileManager.default.createDirectory(atPath: credentialsDirectory, withIntermediateDirectories: true)
        for (name, value) in credentials {
            let path = credentialsDirectory + "/" + name
            _ = FileManager.default.createFile(atPath: path, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        try "credentials_dir: \(credentialsDirectory)\n".write(toFile: flowd.path("etc/flowd/flowd.yaml"), atomically: true, encoding: .utf8)
        let connectors = flowd.path("etc/flowd/connectors")
        try FileManager.default.createDirectory(atPath: connectors, withIntermediateDirectories: true)
        let base = "http://127.0.0.1:\(recorder.port)"
        let sendmail = flowd.path("fake-sendmail")
        try "#!/bin/sh\necho \"$@\" > \(flowd.path("mail.args"))\ncat > \(flowd.path("mail.txt"))\n"
            .write(toFile: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail, 0o755)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.shipped) where name.hasSuffix(".yaml") {
            let text = try String(contentsOfFile: Self.shipped + "/" + name, encoding: .utf8)
                .replacingOccurrences(of: "https://slack.com/api", with: base + "/slack")
                .replacingOccurrences(of: "https://api.airtable.com/v0", with: base + "/airtable")
                .replacingOccurrences(of: "https://sheets.googleapis.com/v4", with: base + "/sheets")
                .replacingOccurrences(of: "/usr/sbin/sendmail", with: sendmail)
            try text.write(toFile: connectors + "/" + name, atomically: true, encoding: .utf8)
        }
        return flowd
    }

    func testEveryBuiltInActionSendsWhatItsManifestSays() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let port = recorder.port
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: slack
                uses: slack/post-message
                with: { channel: "#ops", text: "hello {{ trigger.payload.name }}" }
              - id: slackhook
                uses: slack/post-webhook
                with: { text: hi }
              - id: create
                uses: airtable/create-record
                with: { base: app1, table: "My table", fields: { Name: "{{ trigger.payload.name }}" } }
              - id: list
                uses: airtable/list-records
                with: { base: app1, table: t, filter: "{x}=1" }
              - id: sheet
                uses: google-sheets/append-row
                with: { spreadsheet: s1, values: ["a", 1] }
              - id: hook
                uses: webhook/post-json
                with: { url: "http://127.0.0.1:\(port)/hook", body: { run: "{{ run.id }}" } }
              - id: mail
                uses: mail/send
                with: { to: ops@example.org, subject: "run {{ run.id }}", body: "all good" }
              - id: use
                run: echo "{{ steps.slack.output.ts }} {{ steps.create.output.id }} {{ steps.sheet.output.updated_rows }}"
            """
        let flowd = try makeDaemon(["all.yaml": workflow], recorder: recorder, credentials: [
            "slack_token": "xoxb-secret", "slack_webhook_url": "http://127.0.0.1:\(port)/services/T1/B1",
            "airtable_api_key": "pat-secret", "google_sheets_token": "ya29-secret", "webhook_secret": "s3cr3t",
        ])
        try flowd.start()
        try flowd.drop(#"{"name": "ada"}"#, workflow: "all", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.last?["stdout"], "1.5 rec1 1\n")
        XCTAssertEqual(attempts.first?["output"], ["ok": true, "channel": "C1", "ts": "1.5"])

        let requests = recorder.requests
        XCTAssertEqual(requests.count, 6, "\(requests)")
        func request(_ path: String) throws -> JSONValue { try XCTUnwrap(requests.first { $0["path"]?.stringValue == path }, path) }
        let slack = try request("/slack/chat.postMessage")
        XCTAssertEqual(slack["method"], "POST")
        XCTAssertEqual(slack["headers"]?["authorization"], "Bearer xoxb-secret")
        XCTAssertEqual(try JSONValue.parse(slack["body"]?.stringValue ?? ""), ["channel": "#ops", "text": "hello ada"])
        let slackHook = try request("/services/T1/B1")
        XCTAssertEqual(try JSONValue.parse(slackHook["body"]?.stringValue ?? ""), ["text": "hi"])
        let create = try request("/airtable/app1/My%20table")
        XCTAssertEqual(create["method"], "POST")
        XCTAssertEqual(create["headers"]?["authorization"], "Bearer pat-secret")
        XCTAssertEqual(try JSONValue.parse(create["body"]?.stringValue ?? ""), ["fields": ["Name": "ada"], "typecast": false])
        let list = try request("/airtable/app1/t")
        XCTAssertEqual(list["method"], "GET")
        XCTAssertEqual(list["query"], "filterByFormula=%7Bx%7D%3D1&maxRecords=100")
        let sheet = try request("/sheets/spreadsheets/s1/values/Sheet1%21A1:append")
        XCTAssertEqual(sheet["headers"]?["authorization"], "Bearer ya29-secret")
        XCTAssertEqual(sheet["query"], "valueInputOption=USER_ENTERED")
        XCTAssertEqual(try JSONValue.parse(sheet["body"]?.stringValue ?? ""), ["majorDimension": "ROWS", "values": [["a", 1]]])
        let hook = try request("/hook")
        let body = hook["body"]?.stringValue ?? ""
        XCTAssertEqual(try JSONValue.parse(body), ["run": 1])
        XCTAssertEqual(hook["headers"]?["x-flowd-signature"]?.stringValue,
                       "sha256=" + HMACSHA256.hexAuthenticationCode(key: Array("s3cr3t".utf8), message: Array(body.utf8)))

        XCTAssertEqual(try String(contentsOfFile: flowd.path("mail.args"), encoding: .utf8), "-t -oi\n")
        let mail = try String(contentsOfFile: flowd.path("mail.txt"), encoding: .utf8)
        XCTAssertTrue(mail.hasPrefix("To: ops@example.org\nSubject: run 1\n"), mail)
        XCTAssertTrue(mail.hasSuffix("\n\nall good\n"), mail)

        // Secrets never reach the journal or flowadm output.
        let show = flowd.flowadm("show", "1", "--json")
        for secret in ["xoxb-secret", "pat-secret", "ya29-secret", "s3cr3t"] {
            XCTAssertFalse(show.standardOutput.contains(secret), secret)
        }

        let listing = try flowd.flowadm("connectors", "--json").json()
        let connectors = listing["connectors"]?.arrayValue ?? []
        XCTAssertEqual(connectors.compactMap { $0["name"]?.stringValue }, ["airtable", "google-sheets", "mail", "slack", "webhook"])
        let postMessage = connectors[3]["actions"]?.arrayValue?.first
        XCTAssertEqual(postMessage?["name"], "post-message")
        XCTAssertEqual(postMessage?["credentials"], [["name": "slack_token", "required": true, "present": true, "problem": .null]])
        XCTAssertFalse(flowd.flowadm("connectors", "--json").standardOutput.contains("xoxb-secret"))
        let human = flowd.flowadm("connectors")
        XCTAssertEqual(human.status, 0)
        XCTAssertTrue(human.standardOutput.contains("slack/post-message  POST"), human.standardOutput)
        XCTAssertTrue(human.standardOutput.contains("webhook_secret present (optional)"), human.standardOutput)
        XCTAssertEqual(try flowd.stop(), 0)
    }

    func testRateLimitedRequestWaitsRetryAfterThenSucceeds() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: hook
                uses: webhook/post-json
                with: { url: "http://127.0.0.1:\(recorder.port)/ratelimit", body: { a: 1 } }
                retry: { max_attempts: 3, initial: 1h }
            """
        let flowd = try makeDaemon(["limited.yaml": workflow], recorder: recorder, credentials: [:])
        try flowd.start()
        try flowd.drop("{}", workflow: "limited", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["status"] }, ["failed", "succeeded"])
        XCTAssertEqual(attempts[0]["error"], #"webhook/post-json: HTTP 429: {"error": "slow down"}"#)
        XCTAssertEqual(attempts[0]["retry_reason"], "attempt 2 of 3 in 1s (the server's Retry-After)")
        XCTAssertEqual(recorder.requests.count, 2)
        // No credential: the body goes unsigned.
        XCTAssertNil(recorder.requests.first?["headers"]?["x-flowd-signature"])
    }

    /// A plain http: step honours Retry-After on 429/503 like a connector action does.
    func testPlainHTTPStepWaitsForRetryAfter() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: call
                http: { url: "http://127.0.0.1:\(recorder.port)/ratelimit/plain" }
                retry: { max_attempts: 3, initial: 1h }
            """
        let flowd = try makeDaemon(["plain.yaml": workflow], recorder: recorder, credentials: [:])
        try flowd.start()
        try flowd.drop("{}", workflow: "plain", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "succeeded", "\(run)")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["status"] }, ["failed", "succeeded"])
        XCTAssertEqual(attempts.first?["retry_reason"], "attempt 2 of 3 in 1s (the server's Retry-After)")
    }

    /// Slack answers HTTP 200 with `ok: false` when it refuses a message: the manifest's
    /// fail_if makes that a step failure with Slack's reason, not a success.
    func testSlackOkFalseFailsTheStepWithSlacksError() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: refused
                uses: slack/post-message
                with: { channel: "#nope", text: hi }
                continue_on_error: true
              - id: posted
                uses: slack/post-message
                with: { channel: "#ops", text: hi }
            """
        let flowd = try makeDaemon(["okfalse.yaml": workflow], recorder: recorder, credentials: ["slack_token": "xoxb-secret"])
        try flowd.start()
        try flowd.drop("{}", workflow: "okfalse", name: "a.json")
        let run = try flowd.waitForRun(1)
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["status"] }, ["failed", "succeeded"], "\(run)")
        XCTAssertEqual(attempts.first?["error"], "slack/post-message: Slack refused the message: channel_not_found")
        XCTAssertEqual(attempts.last?["output"]?["ok"], true)
        XCTAssertEqual(recorder.requests.count, 2)
    }

    func testMissingCredentialAndFailingStatusAreClearStepErrors() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let workflow = """
            on: { spool: { format: json } }
            steps:
              - id: notify
                uses: slack/post-message
                with: { channel: "#ops", text: hi }
                continue_on_error: true
              - id: broken
                uses: webhook/post-json
                with: { url: "http://127.0.0.1:\(recorder.port)/fail", body: {} }
            """
        let flowd = try makeDaemon(["nocred.yaml": workflow], recorder: recorder, credentials: [:])
        try flowd.start()
        try flowd.drop("{}", workflow: "nocred", name: "a.json")
        let run = try flowd.waitForRun(1)
        XCTAssertEqual(run["status"], "failed")
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts[0]["error"]?.stringValue, "connector slack needs credential slack_token; none is loaded "
                       + "(put it in $CREDENTIALS_DIRECTORY or credentials_dir, mode 0600)")
        XCTAssertEqual(attempts[1]["error"], "webhook/post-json: HTTP 500: internal trouble second line")
        XCTAssertEqual(recorder.requests.count, 1, "no request without the credential")
        let listing = try flowd.flowadm("connectors", "--json").json()
        let slack = listing["connectors"]?.arrayValue?.first { $0["name"] == "slack" }
        XCTAssertEqual(slack?["actions"]?[0]?["credentials"]?[0]?["present"], false)
    }

    func testUsesStepsAreCheckedWhenTheWorkflowLoads() throws {
        let recorder = try Recorder()
        defer { recorder.stop() }
        let workflow = """
            steps:
              - id: notify
                uses: slack/post-message
                with: { channel: 5, txt: hi }
            """
        let flowd = try makeDaemon(["bad.yaml": workflow], recorder: recorder, credentials: [:])
        try "name: x\nactions: { a: { request: { method: GET } } }\n"
            .write(toFile: flowd.path("etc/flowd/connectors/broken.yaml"), atomically: true, encoding: .utf8)
        try flowd.start()
        let reply = try flowd.flowadm("workflows", "--json").json()
        let path = flowd.path("etc/flowd/workflows/bad.yaml")
        XCTAssertEqual(reply["errors"]?[0]?["errors"], [
            .string("\(path):4:11: slack/post-message needs input \"text\" (string) in with:"),
            .string("\(path):4:25: unknown input \"txt\" for slack/post-message; its inputs: channel, text, thread_ts"),
        ])
        let connectors = try flowd.flowadm("connectors", "--json").json()
        XCTAssertEqual(connectors["errors"]?[0]?["errors"], [
            .string("\(flowd.path("etc/flowd/connectors/broken.yaml")):2:26: action a.request needs path: (appended to base_url; this manifest has none, so a whole URL)"),
        ])
    }
}

private extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, index < items.count else { return nil }
        return items[index]
    }
}
