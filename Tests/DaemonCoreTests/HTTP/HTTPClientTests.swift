// HTTPClientTests.swift: HTTPClient against a real HTTP server on 127.0.0.1 (started
// per test, see HTTPTestServer): what arrives at the server, what a step sees as its
// output, statuses, redirects, limits, timeouts, cancellation and connection errors.

import Foundation
import XCTest

@testable import DaemonCore

final class HTTPClientTests: XCTestCase {
    private var server: HTTPTestServer!

    override func setUpWithError() throws {
        server = try HTTPTestServer()
    }

    override func tearDown() {
        server?.stop()
        server = nil
    }

    private func perform(
        _ path: String, method: String = "GET", cancellation: ProcessCancellation? = nil,
        configure: (inout HTTPRequestSpec) -> Void = { _ in }
    ) throws(HTTPClientError) -> HTTPResponse {
        var spec = HTTPRequestSpec(method: method, url: server.url(path))
        spec.timeout = .seconds(5)
        configure(&spec)
        return try HTTPClient.perform(spec, cancellation: cancellation)
    }

    /// The error `body` throws; fails the test when it returns.
    private func failure(
        _ body: () throws(HTTPClientError) -> HTTPResponse, file: StaticString = #filePath, line: UInt = #line
    ) -> HTTPClientError? {
        do {
            let response = try body()
            XCTFail("expected an error, got status \(response.status)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    // MARK: what the server receives

    func testMethodPathQueryHeadersAndBodyArriveAsSent() throws {
        let response = try perform("/json?keep=1", method: "PUT") { spec in
            spec.query = ["b": "2 3", "a": "x&y=z", "ü": "é/?"]
            spec.headers = ["X-Token": "abc123", "Content-Type": "application/json", "X-Split": "one\r\nInjected: yes"]
            spec.body = Array(#"{"k": [1, "ü"]}"#.utf8)
        }
        XCTAssertEqual(response.status, 200)
        let requests = try server.requests()
        XCTAssertEqual(requests.count, 1)
        let request = try XCTUnwrap(requests.first)
        XCTAssertEqual(request["method"], "PUT")
        XCTAssertEqual(request["path"], "/json")
        XCTAssertEqual(request["query"], "keep=1&a=x%26y%3Dz&b=2%203&%C3%BC=%C3%A9%2F%3F")
        XCTAssertEqual(request["headers"]?["x-token"], "abc123")
        XCTAssertEqual(request["headers"]?["content-type"], "application/json")
        XCTAssertEqual(request["headers"]?["x-split"], "one  Injected: yes")
        XCTAssertNil(request["headers"]?["injected"], "a CR LF in a value must not start a new header")
        XCTAssertEqual(request["body"], #"{"k": [1, "ü"]}"#)
    }

    func testEachMethodIsSentAsGiven() throws {
        for method in ["POST", "PATCH", "DELETE", "HEAD"] {
            _ = try perform("/text", method: method) { $0.body = method == "HEAD" ? nil : Array("payload".utf8) }
        }
        let requests = try server.requests()
        XCTAssertEqual(requests.map { $0["method"]?.stringValue }, ["POST", "PATCH", "DELETE", "HEAD"])
        XCTAssertEqual(requests.map { $0["body"]?.stringValue }, ["payload", "payload", "payload", ""])
    }

    func testGetSendsNoBody() throws {
        let response = try perform("/json") { $0.body = Array("ignored".utf8) }
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try server.requests().first?["body"], "")
    }

    // MARK: what the step sees

    func testJSONResponseIsParsedIntoTheStepOutput() throws {
        let response = try perform("/json")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["content-type"], "application/json; charset=utf-8")
        XCTAssertEqual(response.headers["x-repeat"], "a, b")
        XCTAssertFalse(response.bodyTruncated)
        XCTAssertGreaterThan(response.duration, .zero)
        XCTAssertLessThan(response.duration, .seconds(5))
        let output = response.stepOutput
        XCTAssertEqual(output["status"], 200)
        XCTAssertEqual(output["headers"]?["x-repeat"], "a, b")
        XCTAssertEqual(output["body"], ["message": "hello", "items": [1, 2]])
    }

    func testTextBodyIsKeptAsText() throws {
        let response = try perform("/text")
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.stepOutput["body"], "plain text, ünïcode")
    }

    func testBodyThatIsNotJSONStaysText() throws {
        let response = try perform("/badjson")
        XCTAssertEqual(response.stepOutput["body"], "{not json")
    }

    func testErrorStatusesAreResponsesNotErrors() throws {
        for status in [404, 500, 503] {
            let response = try perform("/status/\(status)")
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.stepOutput["status"], .int(Int64(status)))
            XCTAssertEqual(response.stepOutput["body"], ["status": .int(Int64(status))], "+json is JSON")
        }
    }

    // MARK: redirects

    func testRedirectIsFollowed() throws {
        let response = try perform("/redirect")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.stepOutput["body"]?["message"], "hello")
        XCTAssertEqual(try server.requests().map { $0["path"]?.stringValue }, ["/redirect", "/json"])
    }

    func testAtMostFiveRedirectsAreFollowed() throws {
        let response = try perform("/loop/0")
        XCTAssertEqual(response.status, 302)
        XCTAssertEqual(response.headers["location"], "/loop/6")
        XCTAssertEqual(try server.requests().count, 1 + HTTPClient.maximumRedirects)
    }

    // MARK: limits, timeouts, cancellation

    func testBigBodyIsCutAtTheLimit() throws {
        let response = try perform("/big") { $0.maxResponseBytes = 64 * 1024 }
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.bodyTruncated)
        XCTAssertEqual(response.body.count, 64 * 1024)
        XCTAssertTrue(response.body.allSatisfy { $0 == UInt8(ascii: "x") })
    }

    func testBodyOfExactlyTheLimitIsComplete() throws {
        let whole = try perform("/big?bytes=1000") { $0.maxResponseBytes = 1000 }
        XCTAssertFalse(whole.bodyTruncated)
        XCTAssertEqual(whole.body.count, 1000)
        let cut = try perform("/big?bytes=1000") { $0.maxResponseBytes = 999 }
        XCTAssertTrue(cut.bodyTruncated)
        XCTAssertEqual(cut.body.count, 999)
    }

    func testHugeResponseIsCutOffAtTheLimit() throws {
        // Paced at about 64 MB/s (a fast network), so sending it all takes over 1 s.
        let size = 64 * 1024 * 1024
        let peakBefore = HTTPTestServer.peakResidentBytes()
        let started = ContinuousClock.now
        let response = try perform("/big?bytes=\(size)&pause_ms=1")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "the request ends at the limit")
        XCTAssertTrue(response.bodyTruncated)
        XCTAssertEqual(response.body.count, 1024 * 1024, "the default limit is 1 MiB")
        let sent = try XCTUnwrap(server.bigBodyBytesSent().first, "the server never saw the end of the answer")
        XCTAssertLessThan(sent, 16 * 1024 * 1024, "the client kept downloading past the limit")
        let growth = HTTPTestServer.peakResidentBytes() - peakBefore
        XCTAssertLessThan(growth, 24 * 1024 * 1024, "peak memory grew by \(growth) bytes for a 64 MiB answer")
    }

    func testTimeoutStopsTheRequest() {
        let started = ContinuousClock.now
        let error = failure { () throws(HTTPClientError) in try perform("/slow") { $0.timeout = .milliseconds(500) } }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(error, .timedOut(.milliseconds(500)))
        XCTAssertEqual(error?.description, "no answer within 500ms")
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(500))
        XCTAssertLessThan(elapsed, .milliseconds(1500))
    }

    func testCancellationFromAnotherThreadAbortsTheRequest() {
        let cancellation = ProcessCancellation()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) { cancellation.cancel() }
        let started = ContinuousClock.now
        let error = failure { () throws(HTTPClientError) in try perform("/slow", cancellation: cancellation) }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(error, .cancelled)
        XCTAssertLessThan(elapsed, .milliseconds(1500), "cancel must not wait for the 3 s answer")
    }

    func testCancelledBeforehandSendsNothing() throws {
        let cancellation = ProcessCancellation()
        cancellation.cancel()
        let error = failure { () throws(HTTPClientError) in try perform("/text", cancellation: cancellation) }
        XCTAssertEqual(error, .cancelled)
        _ = try perform("/json")
        XCTAssertEqual(try server.requests().map { $0["path"]?.stringValue }, ["/json"])
    }

    func testUnusedCancellationDoesNotDisturbTheRequest() throws {
        let cancellation = ProcessCancellation()
        XCTAssertEqual(try perform("/json", cancellation: cancellation).status, 200)
        XCTAssertEqual(try perform("/text", cancellation: cancellation).status, 201)
    }

    func testRequestsLeaveNoDescriptorsBehind() throws {
        func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0 }
        _ = try perform("/json")
        let before = openDescriptors()
        for _ in 0..<10 {
            _ = try perform("/json")
            _ = try perform("/big") { $0.maxResponseBytes = 1000 }
        }
        Thread.sleep(forTimeInterval: 0.2)  // sessions are torn down on their own queues
        XCTAssertLessThan(openDescriptors() - before, 10, "20 requests must not leave 20 descriptors open")
    }

    // MARK: failures before any response

    func testClosedPortIsAConnectionFailure() {
        let port = HTTPTestServer.closedPort()
        var spec = HTTPRequestSpec(method: "GET", url: "http://127.0.0.1:\(port)/json?token=secret")
        spec.timeout = .seconds(5)
        let error = failure { () throws(HTTPClientError) in try HTTPClient.perform(spec) }
        guard case .connectionFailed(let message) = error else {
            return XCTFail("expected connectionFailed, got \(String(describing: error))")
        }
        XCTAssertTrue(message.contains("127.0.0.1:\(port)"), message)
        XCTAssertFalse(message.contains("secret"), "the query may hold credentials: \(message)")
    }

    func testInvalidURLsAreRefusedBeforeSending() {
        let cases: [(url: String, reason: String)] = [
            ("not a url", "not an absolute URL"),
            ("/relative/path", "not an absolute URL"),
            ("ftp://127.0.0.1/file", #"the scheme "ftp" is not supported"#),
            ("file:///etc/passwd", #"the scheme "file" is not supported"#),
            ("http:///no-host", "no host"),
        ]
        for (url, reason) in cases {
            let error = failure { () throws(HTTPClientError) in try HTTPClient.perform(HTTPRequestSpec(method: "GET", url: url)) }
            guard case .invalidURL(let message) = error else {
                XCTFail("\(url): expected invalidURL, got \(String(describing: error))")
                continue
            }
            XCTAssertTrue(message.hasPrefix("invalid URL \"\(url)\": "), message)
            XCTAssertTrue(message.contains(reason), "\(url): \(message)")
            XCTAssertEqual(error?.description, message)
        }
    }
}
