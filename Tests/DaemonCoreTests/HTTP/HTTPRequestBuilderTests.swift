// HTTPRequestBuilderTests.swift: the pure parts of the HTTP client, without a server:
// credentials redaction, query encoding, what a redirect to another origin may carry,
// and the step output of responses with various content types.

import Foundation
import XCTest

@testable import DaemonCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class HTTPRequestBuilderTests: XCTestCase {
    // MARK: redact

    func testRedactReplacesEveryOccurrenceOfEverySecret() {
        XCTAssertEqual(
            HTTPClient.redact("Bearer s3cr3t-token, again s3cr3t-token; key=hunter2", secrets: ["s3cr3t-token", "hunter2"]),
            "Bearer ***, again ***; key=***")
    }

    func testRedactReplacesShortSecretsToo() {
        XCTAssertEqual(HTTPClient.redact("pin 123 and 123", secrets: ["123"]), "pin *** and ***")
        XCTAssertEqual(HTTPClient.redact("a-b-a", secrets: ["a"]), "***-b-***")
    }

    func testRedactPrefersTheLongerOfOverlappingSecrets() {
        XCTAssertEqual(HTTPClient.redact("token=abcdef", secrets: ["abc", "abcdef"]), "token=***")
        XCTAssertEqual(HTTPClient.redact("xabcdefx", secrets: ["cdef", "abcd"]), "x***efx")
    }

    func testRedactLeavesTextWithoutSecretsAlone() {
        XCTAssertEqual(HTTPClient.redact("nothing here", secrets: []), "nothing here")
        XCTAssertEqual(HTTPClient.redact("nothing here", secrets: [""]), "nothing here")
        XCTAssertEqual(HTTPClient.redact("nothing here", secrets: ["absent"]), "nothing here")
        XCTAssertEqual(HTTPClient.redact("", secrets: ["x"]), "")
    }

    func testRedactHandlesNonASCIISecrets() {
        XCTAssertEqual(HTTPClient.redact("clé: pässwörd✓!", secrets: ["pässwörd✓"]), "clé: ***!")
    }

    // MARK: query and URL

    func testQueryIsSortedAndPercentEncoded() {
        XCTAssertEqual(
            HTTPRequestBuilder.encodedQuery(["z": "1", "a b": "c+d", "m": "", "~ok-._": "é"]),
            "a%20b=c%2Bd&m=&z=1&~ok-._=%C3%A9")
    }

    func testQueryIsAppendedBeforeTheFragment() throws {
        var spec = HTTPRequestSpec(method: "GET", url: "https://example.invalid/path?x=1#part")
        spec.query = ["y": "2"]
        XCTAssertEqual(try HTTPRequestBuilder.url(for: spec).absoluteString, "https://example.invalid/path?x=1&y=2#part")
    }

    func testHeaderNamesThatAreNotTokensAreNotSent() throws {
        var spec = HTTPRequestSpec(method: "GET", url: "http://127.0.0.1/")
        spec.headers = ["Good-Name": "1", "Bad Name": "2", "Bad:Name": "3", "": "4"]
        let request = try HTTPRequestBuilder.request(for: spec)
        XCTAssertEqual(request.allHTTPHeaderFields ?? [:], ["Good-Name": "1"])
    }

    // MARK: redirects

    func testRedirectToAnotherOriginDropsCredentials() throws {
        var proposed = URLRequest(url: try XCTUnwrap(URL(string: "http://other.invalid/next")))
        proposed.setValue("Bearer secret", forHTTPHeaderField: "Authorization")
        proposed.setValue("session=1", forHTTPHeaderField: "Cookie")
        proposed.setValue("kept", forHTTPHeaderField: "X-Trace")
        let origin = URL(string: "http://api.invalid/start")
        let request = HTTPRequestBuilder.redirectRequest(proposed, from: origin)
        XCTAssertNil(request.value(forHTTPHeaderField: "Authorization"))
        XCTAssertNil(request.value(forHTTPHeaderField: "Cookie"))
        XCTAssertEqual(request.value(forHTTPHeaderField: "X-Trace"), "kept")
    }

    func testRedirectWithinTheOriginKeepsCredentials() throws {
        var proposed = URLRequest(url: try XCTUnwrap(URL(string: "http://api.invalid:80/next")))
        proposed.setValue("Bearer secret", forHTTPHeaderField: "Authorization")
        let request = HTTPRequestBuilder.redirectRequest(proposed, from: URL(string: "http://API.invalid/start"))
        XCTAssertEqual(request.value(forHTTPHeaderField: "Authorization"), "Bearer secret")
        let toHTTPS = HTTPRequestBuilder.redirectRequest(
            URLRequest(url: try XCTUnwrap(URL(string: "https://api.invalid/next"))), from: URL(string: "http://api.invalid/"))
        XCTAssertNil(toHTTPS.value(forHTTPHeaderField: "Authorization"))
        XCTAssertFalse(HTTPRequestBuilder.sameOrigin(URL(string: "http://a.invalid:8080/")!, URL(string: "http://a.invalid/")!))
    }

    // MARK: step output

    private func output(contentType: String?, body: String, truncated: Bool = false) -> JSONValue? {
        let headers = contentType.map { ["content-type": $0] } ?? [:]
        let response = HTTPResponse(
            status: 200, headers: headers, body: Array(body.utf8), bodyTruncated: truncated, duration: .zero)
        return response.stepOutput["body"]
    }

    func testOnlyJSONContentTypesAreParsed() {
        XCTAssertEqual(output(contentType: "application/json", body: "[1, 2.5]"), [1, 2.5])
        XCTAssertEqual(output(contentType: "Application/JSON ; charset=utf-8", body: "true"), true)
        XCTAssertEqual(output(contentType: "application/vnd.api+json", body: #"{"a":null}"#), ["a": nil])
        XCTAssertEqual(output(contentType: "text/plain", body: "[1, 2]"), "[1, 2]")
        XCTAssertEqual(output(contentType: "application/jsonx", body: "1"), "1")
        XCTAssertEqual(output(contentType: nil, body: "{}"), "{}")
    }

    func testTruncatedJSONIsNotParsed() {
        XCTAssertEqual(output(contentType: "application/json", body: "12345", truncated: true), "12345")
    }

    func testInvalidUTF8BodyBecomesReplacementCharacters() {
        let response = HTTPResponse(status: 200, headers: [:], body: [0x61, 0xFF, 0x62], bodyTruncated: false, duration: .zero)
        XCTAssertEqual(response.stepOutput["body"], "a\u{FFFD}b")
    }
}
