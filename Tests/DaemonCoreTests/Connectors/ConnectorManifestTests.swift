// Connector manifests: the shipped ones load, errors carry positions, `uses:` steps are
// checked against the catalog, and invocations build the requests the manifests say.

@testable import DaemonCore
import Foundation
import XCTest

final class ConnectorManifestTests: XCTestCase {
    static let shippedDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../etc/flowd/connectors").standardized.path

    func testShippedManifestsLoad() throws {
        let catalog = ConnectorCatalog.load(directories: [Self.shippedDirectory])
        XCTAssertEqual(catalog.problems.flatMap(\.errors).map(\.description), [])
        XCTAssertEqual(catalog.manifests.keys.sorted(), ["airtable", "google-sheets", "mail", "slack", "webhook"])
        XCTAssertEqual(catalog.manifests["slack"]?.actions.keys.sorted(), ["post-message", "post-webhook"])
        XCTAssertEqual(catalog.manifests["slack"]?.actions["post-message"]?.credentials, ["slack_token"])
        XCTAssertEqual(catalog.manifests["airtable"]?.actions.keys.sorted(), ["create-record", "list-records"])
        XCTAssertEqual(catalog.manifests["webhook"]?.actions["post-json"]?.credentials, [])
    }

    func testManifestErrorsHavePositions() {
        let text = """
            name: Bad Name
            base_url: ftp://x
            credentials: [token]
            actions:
              send:
                inputs:
                  n: { type: integer }
                  m: { type: number, default: "x" }
                request:
                  method: FETCH
                  path: "/x/{{ inputs.nope }}"
                  headers: { Authorization: "Bearer {{ credentials.other }}" }
              run:
                command: { argv: [sendmail] }
              both:
                request: { path: / }
                command: { argv: [/bin/true] }
              judged:
                request: { path: / }
                fail_if: "{{ response.body.ok == false }}"
                fail_message: "{{ credentials.token }}"
              lonely:
                request: { path: / }
                fail_message: why
            """
        XCTAssertThrowsError(try ConnectorManifestLoader.load(text: text, path: "bad.yaml")) { error in
            let messages = (error as? DefinitionErrors)?.errors.map(\.description) ?? []
            XCTAssertEqual(messages, [
                "bad.yaml:1:7: connector name \"Bad Name\" is invalid; names match [a-z0-9][a-z0-9_-]{0,63}",
                "bad.yaml:2:11: base_url must start with http:// or https://; found \"ftp://x\"",
                "bad.yaml:7:18: action send input n.type must be one of string, number, boolean, object, array; found \"integer\"",
                "bad.yaml:8:35: action send input m.default must be a number, found a string",
                "bad.yaml:10:15: action send.request.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; found \"FETCH\"",
                "bad.yaml:11:13: action send.request.path: inputs.nope is not a declared input of this action",
                "bad.yaml:12:33: action send.request.headers: credentials.other is not listed in the manifest's credentials",
                "bad.yaml:14:22: action run.command.argv must start with an absolute program path, e.g. /usr/sbin/sendmail",
                "bad.yaml:16:5: action both has both request and command; it needs exactly one",
                "bad.yaml:21:19: action judged.fail_message: credentials.token is not listed in the manifest's credentials "
                    + "(templates over the response cannot read credentials)",
                "bad.yaml:24:19: action lonely.fail_message needs fail_if",
            ])
        }
    }

    func testUsesStepsAreCheckedAgainstTheCatalogWithPositions() {
        let catalog = ConnectorCatalog.load(directories: [Self.shippedDirectory])
        let text = """
            steps:
              - id: a
                uses: slak/post-message
              - id: b
                uses: slack/post
              - id: c
                uses: slack/post-message
                with: { chanel: "#ops", text: 3 }
              - id: d
                uses: airtable/create-record
                with:
                  base: app1
                  table: t
                  fields: [1, 2]
                  typecast: "{{ trigger.payload.typecast }}"
            """
        XCTAssertThrowsError(try WorkflowLoader.load(text: text, path: "w.yaml", connectors: catalog)) { error in
            let messages = (error as? DefinitionErrors)?.errors.map(\.description) ?? []
            XCTAssertEqual(messages, [
                "w.yaml:3:11: unknown connector \"slak\"; known connectors: airtable, google-sheets, mail, slack, webhook",
                "w.yaml:5:11: connector slack has no action \"post\"; its actions: post-message, post-webhook",
                "w.yaml:8:11: slack/post-message needs input \"channel\" (string) in with:",
                "w.yaml:8:13: unknown input \"chanel\" for slack/post-message; its inputs: channel, text, thread_ts",
                "w.yaml:14:15: input fields of airtable/create-record must be a mapping, found a list",
            ])
        }
        // Without a catalog (flowadm validate with no manifests) the step is not checked.
        XCTAssertNoThrow(try WorkflowLoader.load(text: "steps: [{ id: a, uses: slak/x }]", path: "w.yaml"))
    }

    func testHMACSHA256MatchesRFC4231() {
        XCTAssertEqual(HMACSHA256.hexAuthenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        XCTAssertEqual(HMACSHA256.hexAuthenticationCode(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func testInvocationBuildsTheRequestAndChecksInputsAndCredentials() throws {
        let catalog = ConnectorCatalog.load(directories: [Self.shippedDirectory])
        let airtable = try XCTUnwrap(catalog.manifests["airtable"])
        let list = try XCTUnwrap(airtable.actions["list-records"])
        let invocation = try ConnectorInvocation.prepare(
            manifest: airtable, action: list, with: ["base": "app1", "table": "My table/2", "max_records": "5"],
            credentials: ["airtable_api_key": "key-1"], credentialProblem: { _ in nil }, timeout: .seconds(5), maxResponseBytes: 1000)
        guard case .request(let spec) = invocation.work else { return XCTFail("not a request") }
        XCTAssertEqual(spec.method, "GET")
        XCTAssertEqual(spec.url, "https://api.airtable.com/v0/app1/My%20table%2F2")
        XCTAssertEqual(spec.query, ["maxRecords": "5"])
        XCTAssertEqual(spec.headers["Authorization"], "Bearer key-1")
        XCTAssertEqual(invocation.journalInput["headers"], ["Authorization"])

        XCTAssertThrowsError(try ConnectorInvocation.prepare(
            manifest: airtable, action: list, with: ["base": "app1", "table": "t"], credentials: [:], credentialProblem: { _ in nil },
            timeout: .seconds(5), maxResponseBytes: 1000)) { error in
            XCTAssertEqual("\(error)", "connector airtable needs credential airtable_api_key; none is loaded "
                           + "(put it in $CREDENTIALS_DIRECTORY or credentials_dir, mode 0600)")
        }
        XCTAssertThrowsError(try ConnectorInvocation.prepare(
            manifest: airtable, action: list, with: ["base": "app1", "table": "t", "max_records": "many"],
            credentials: ["airtable_api_key": "k"], credentialProblem: { _ in nil }, timeout: .seconds(5), maxResponseBytes: 1000)) { error in
            XCTAssertEqual("\(error)", "input max_records of airtable/list-records must be a number, found a string")
        }
        let mail = try XCTUnwrap(catalog.manifests["mail"])
        XCTAssertThrowsError(try ConnectorInvocation.prepare(
            manifest: mail, action: try XCTUnwrap(mail.actions["send"]), with: ["to": "a@b\nBcc: x@y", "subject": "s", "body": "b"],
            credentials: [:], credentialProblem: { _ in nil }, timeout: .seconds(5), maxResponseBytes: 1000)) { error in
            XCTAssertEqual("\(error)", "input to of mail/send must be one line (it goes into a header)")
        }
    }

    func testRetryAfterIsParsedAndCapped() {
        XCTAssertEqual(ConnectorInvocation.retryAfter("1"), .seconds(1))
        XCTAssertEqual(ConnectorInvocation.retryAfter("999999"), .seconds(3600))
        XCTAssertNil(ConnectorInvocation.retryAfter("soon"))
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        XCTAssertEqual(ConnectorInvocation.retryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now: now), .seconds(30))
    }
}
