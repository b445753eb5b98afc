// End to end: credentials reach the steps that use them and nothing that records.

import DaemonCore
import Foundation
import XCTest

final class SecretsTests: XCTestCase {
    func testCredentialsAreUsableButRedactedEverywhereFlowdRecords() throws {
        let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"
        let secretHash = SHA256.hexDigest(Array(secret.utf8))
        let flowd = try FlowdHarness(
            workflows: ["secret.yaml": """
                on: { manual: true }
                steps:
                  - id: echo
                    run: echo "token is {{ credentials.token }}"
                  - id: env
                    env: { TOKEN: "{{ credentials.token }}" }
                    run: test "$(printf %s "$TOKEN" | sha256sum | cut -c1-64)" = "\(secretHash)" && echo "env $TOKEN" >&2
                  - id: keep
                    set: { copy: "{{ credentials.token }}", length: "{{ len(credentials.token) }}" }
                  - id: weak
                    run: echo "{{ credentials.weak }}"
                """],
            configuration: "credentials_dir: CREDENTIALS\n")
        let directory = flowd.path("creds")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (secret + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(directory + "/token", 0o600), 0)
        try "weak-\(secret)".write(toFile: directory + "/weak", atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(directory + "/weak", 0o644), 0)
        let configuration = try String(contentsOfFile: flowd.path("etc/flowd/flowd.yaml"), encoding: .utf8)
        try configuration.replacingOccurrences(of: "CREDENTIALS", with: directory)
            .write(toFile: flowd.path("etc/flowd/flowd.yaml"), atomically: true, encoding: .utf8)

        try flowd.start()
        _ = flowd.flowadm("trigger", "secret", "--wait")
        let run = try flowd.flowadm("show", "1", "--json").json()
        let attempts = run["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["status"] }, ["succeeded", "succeeded", "succeeded", "failed"], "\(run)")
        XCTAssertEqual(attempts[0]["stdout"], "token is ***\n")
        XCTAssertEqual(attempts[0]["input"]?["run"], "echo \"token is ***\"")
        XCTAssertEqual(attempts[1]["stderr"], "env ***\n", "the step saw the real value (its test passed); the journal has ***")
        XCTAssertEqual(attempts[2]["output"], ["copy": "***", "length": .int(Int64(secret.count))])
        XCTAssertTrue(attempts[3]["error"]?.stringValue?.contains("no field 'weak'") ?? false, "\(attempts[3])")
        XCTAssertTrue(flowd.log.contains("credential weak refused"), flowd.log)
        XCTAssertTrue(flowd.log.contains("must be 0600 or stricter"), flowd.log)

        // No byte of the secret in anything flowd recorded or printed.
        XCTAssertEqual(try flowd.stop(), 0)
        for file in ["state/journal.sqlite", "state/journal.sqlite-wal"] {
            guard let data = FileManager.default.contents(atPath: flowd.path(file)) else { continue }
            XCTAssertNil(data.range(of: Data(secret.utf8)), "\(file) holds the secret")
        }
        XCTAssertFalse(flowd.log.contains(secret), "the log holds the secret")
        try flowd.start()
        for verb in [["show", "1"], ["logs", "1"], ["show", "1", "--json"], ["runs", "--json"]] {
            XCTAssertFalse(flowd.flowadm(arguments: verb).standardOutput.contains(secret), "flowadm \(verb) shows the secret")
        }
    }
}
