// HTTPRequestBuilderTests.swift: the pure parts of the HTTP client, without a server:
// credentials redaction, query encoding, what a redirect to another origin may carry,
// and the step output of responses with various content types.

import Foundation
import XCTest

@testable import DaemonCore


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
        XCTAssertEqual(request.fields, [PreparedRequest.Field(name: "Good-Name", value: "1")])
    }

    // MARK: redirects

    private func request(_ method: String, _ url: String, fields: [String: String] = [:], body: String? = nil) throws -> PreparedRequest {
        PreparedRequest(method: method, url: try XCTUnwrap(URL(string: url)),
                        fields: fields.sorted { $0.key < $1.key }.map { PreparedRequest.Field(name: $0.key, value: $0.value) },
                        body: body.map { Array($0.utf8) })
    }

    func testRedirectToAnotherOriginDropsCredentials() throws {
        let previous = try request("GET", "http://api.invalid/start",
                                   fields: ["Authorization": "Bearer secret", "Cookie": "session=1", "X-Trace": "kept"])
        let next = HTTPRequestBuilder.redirect(previous, to: try XCTUnwrap(URL(string: "http://other.invalid/next")), status: 302)
        XCTAssertNil(next.value(of: "Authorization"))
        XCTAssertNil(next.value(of: "Cookie"))
        XCTAssertEqual(next.value(of: "X-Trace"), "kept")
        XCTAssertEqual(next.url.absoluteString, "http://other.invalid/next")
    }

    func testRedirectWithinTheOriginKeepsCredentials() throws {
        let previous = try request("GET", "http://API.invalid/start", fields: ["Authorization": "Bearer secret"])
        let next = HTTPRequestBuilder.redirect(previous, to: try XCTUnwrap(URL(string: "http://api.invalid:80/next")), status: 301)
        XCTAssertEqual(next.value(of: "Authorization"), "Bearer secret")
        let toHTTPS = HTTPRequestBuilder.redirect(previous, to: try XCTUnwrap(URL(string: "https://api.invalid/next")), status: 301)
        XCTAssertNil(toHTTPS.value(of: "Authorization"))
        XCTAssertFalse(HTTPRequestBuilder.sameOrigin(URL(string: "http://a.invalid:8080/")!, URL(string: "http://a.invalid/")!))
    }

    func testRedirectMethodsFollowRFC9110() throws {
        let post = try request("POST", "http://api.invalid/form", fields: ["Content-Type": "application/json"], body: "{}")
        let target = try XCTUnwrap(URL(string: "http://api.invalid/next"))
        for status in [301, 302, 303] {
            let next = HTTPRequestBuilder.redirect(post, to: target, status: status)
            XCTAssertEqual(next.method, "GET", "\(status)")
            XCTAssertNil(next.body, "\(status)")
            XCTAssertNil(next.value(of: "Content-Type"), "\(status)")
        }
        for status in [307, 308] {
            let next = HTTPRequestBuilder.redirect(post, to: target, status: status)
            XCTAssertEqual(next.method, "POST", "\(status)")
            XCTAssertEqual(next.body, Array("{}".utf8), "\(status)")
        }
        let put = try request("PUT", "http://api.invalid/x", body: "data")
        XCTAssertEqual(HTTPRequestBuilder.redirect(put, to: target, status: 302).method, "PUT", "only POST turns into GET on 301/302")
        XCTAssertEqual(HTTPRequestBuilder.redirect(put, to: target, status: 303).method, "GET")
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
