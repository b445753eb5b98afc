// HTTPClient.swift: performs the request of one `http:` step attempt on the calling
// worker thread, and redacts credentials from texts that may show them.
//
// Each call makes its own ephemeral URLSession (libcurl underneath): no cookies, no
// cache, no credential store, no connection reuse between steps. Redirects are
// followed up to 5 times; the 6th is returned as the response. Proxies are libcurl's
// own rules: `http_proxy` for http://, `https_proxy`/`HTTPS_PROXY` for https://,
// `all_proxy`, `no_proxy`; none is used when these are unset.
//
// The worker waits on an eventfd that the transfer's completion writes, and that the
// caller's ProcessCancellation writes when it fires; the poll's timeout is the
// request's deadline. So a cancel or the timeout stops the wait at once. The body is
// cut at `maxResponseBytes` (see HTTPTransfer for the one limit of that: URLSession
// has no backpressure, so a sender faster than the delegate can run ahead of it).
//
// Failures are returned as HTTPClientError (invalid URL, connection failures,
// timeout, cancellation); any HTTP status is a response. Nothing traps on bad input.

import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The blocking HTTP client of the engine's workers.
public enum HTTPClient {
    /// Redirects followed per request; the response to the one after is returned as is.
    public static let maximumRedirects = 5

    /// Performs one request, blocking the calling (worker) thread. A ProcessCancellation
    /// lets another thread abort it (shutdown, run cancel); one that already fired
    /// returns `cancelled` without sending anything.
    ///
    /// Every HTTP status is a response. Errors: `invalidURL` before sending,
    /// `connectionFailed` (DNS, refused, TLS, connection lost, malformed answer),
    /// `timedOut` when the whole exchange takes longer than `spec.timeout`, `cancelled`.
    public static func perform(
        _ spec: HTTPRequestSpec, cancellation: ProcessCancellation? = nil
    ) throws(HTTPClientError) -> HTTPResponse {
        let startedAt = ContinuousClock.now
        if let cancellation, cancellation.isCancelled { throw .cancelled }
        let request = try HTTPRequestBuilder.request(for: spec)
        let origin = origin(of: request.url)

        let wakeDescriptor: Int32
        do {
            wakeDescriptor = try ProcessSystem.makeEventDescriptor()
        } catch {
            throw .connectionFailed("cannot wait for an answer from \(origin): \(error)")
        }
        defer { ProcessSystem.close(wakeDescriptor) }
        if let cancellation, cancellation.register(wakeDescriptor: wakeDescriptor) { throw .cancelled }
        defer { cancellation?.unregister(wakeDescriptor: wakeDescriptor) }

        let transfer = HTTPTransfer(
            maxBodyBytes: max(0, spec.maxResponseBytes), maxRedirects: maximumRedirects,
            wakeDescriptor: wakeDescriptor)
        defer { transfer.detach() }
        let session = URLSession(configuration: configuration(timeout: spec.timeout), delegate: transfer, delegateQueue: nil)
        let task = session.dataTask(with: request)
        task.resume()
        // Releases the session (and its delegate) once the task has ended.
        session.finishTasksAndInvalidate()

        let ending = wait(for: transfer, wakeDescriptor: wakeDescriptor, cancellation: cancellation, deadline: startedAt + spec.timeout)
        switch ending {
        case .timedOut:
            task.cancel()
            throw .timedOut(spec.timeout)
        case .cancelled:
            task.cancel()
            throw .cancelled
        case .waitFailed(let error):
            task.cancel()
            throw .connectionFailed("cannot wait for an answer from \(origin): \(error)")
        case .finished(let result):
            return try response(from: result, spec: spec, origin: origin, duration: ContinuousClock.now - startedAt)
        }
    }

    /// Credentials redaction helper: returns `text` with every occurrence of each secret
    /// replaced by "***" (secrets shorter than 4 characters are still replaced; empty
    /// ones are ignored). Matches are replaced left to right; where several secrets
    /// match at one place, the longest wins. Only the exact text is found (not, say,
    /// a percent-encoded or base64 form of a secret).
    public static func redact(_ text: String, secrets: [String]) -> String {
        let patterns = Set(secrets.filter { !$0.isEmpty }).map { Array($0.utf8) }.sorted { $0.count > $1.count }
        guard !patterns.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var redacted: [UInt8] = []
        redacted.reserveCapacity(bytes.count)
        var index = 0
        scan: while index < bytes.count {
            for pattern in patterns where bytes[index] == pattern[0] && bytes.count - index >= pattern.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                    redacted.append(contentsOf: "***".utf8)
                    index += pattern.count
                    continue scan
                }
            }
            redacted.append(bytes[index])
            index += 1
        }
        return String(decoding: redacted, as: UTF8.self)
    }

    // MARK: waiting

    private enum Ending {
        case finished(HTTPTransfer.Result)
        case timedOut
        case cancelled
        /// poll or read on the eventfd failed (no memory); the wait cannot go on.
        case waitFailed(SystemError)
    }

    /// Blocks until the transfer ends, the cancellation fires or the deadline passes.
    private static func wait(
        for transfer: HTTPTransfer, wakeDescriptor: Int32, cancellation: ProcessCancellation?,
        deadline: ContinuousClock.Instant
    ) -> Ending {
        var descriptors = [pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        var drain = [UInt8](repeating: 0, count: 8)
        while true {
            if let result = transfer.result { return .finished(result) }
            if let cancellation, cancellation.isCancelled { return .cancelled }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return .timedOut }
            descriptors[0].revents = 0
            do {
                try ProcessSystem.poll(&descriptors, timeout: pollMilliseconds(remaining))
                if descriptors[0].revents != 0 {
                    _ = try ProcessSystem.read(wakeDescriptor, into: &drain)
                }
            } catch {
                return .waitFailed(error)
            }
        }
    }

    /// `remaining` rounded up to whole milliseconds, as poll(2) takes it.
    private static func pollMilliseconds(_ remaining: Duration) -> Int32 {
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(1, milliseconds))
    }

    // MARK: the session and the result

    /// An ephemeral configuration without cookies, cache or credentials. libcurl's own
    /// timer is set past `timeout` (it counts whole seconds) so that ours fires first.
    private static func configuration(timeout: Duration) -> URLSessionConfiguration {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.urlCredentialStorage = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        let seconds = Double(timeout.components.seconds) + 2
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        return configuration
    }

    private static func response(
        from result: HTTPTransfer.Result, spec: HTTPRequestSpec, origin: String, duration: Duration
    ) throws(HTTPClientError) -> HTTPResponse {
        if let error = result.error {
            throw clientError(error, spec: spec, origin: origin)
        }
        guard let response = result.response else {
            throw .connectionFailed("\(origin) closed the connection without an answer")
        }
        return HTTPResponse(
            status: response.statusCode, headers: lowercasedHeaders(response.allHeaderFields),
            body: result.body, bodyTruncated: result.bodyTruncated, duration: duration)
    }

    /// Header names lowercased; names that differ only in case are joined with ", ".
    static func lowercasedHeaders(_ fields: [AnyHashable: Any]) -> [String: String] {
        var headers: [String: String] = [:]
        let pairs = fields.compactMap { key, value -> (String, String)? in
            guard let name = key as? String else { return nil }
            return (name, value as? String ?? String(describing: value))
        }
        for (name, value) in pairs.sorted(by: { $0.0 < $1.0 }) {
            let key = name.lowercased()
            if let existing = headers[key] {
                headers[key] = existing + ", " + value
            } else {
                headers[key] = value
            }
        }
        return headers
    }

    /// The HTTPClientError for a failed task: what failed, the origin (never the path
    /// or query, which may hold credentials) and libcurl's own words when it gave some.
    private static func clientError(_ error: URLError, spec: HTTPRequestSpec, origin: String) -> HTTPClientError {
        let curlMessage = error.userInfo[NSLocalizedDescriptionKey] as? String
        func failed(_ what: String, _ fallback: String) -> HTTPClientError {
            .connectionFailed("\(what): \(curlMessage ?? fallback)")
        }
        switch error.code {
        case .timedOut:
            return .timedOut(spec.timeout)
        case .cancelled:
            return .cancelled
        case .badURL, .unsupportedURL:
            return .invalidURL("invalid URL \(HTTPRequestBuilder.quoted(spec.url)): \(curlMessage ?? "refused by URLSession")")
        case .cannotFindHost, .dnsLookupFailed:
            return failed("cannot resolve the host of \(origin)", "host not found")
        case .cannotConnectToHost:
            return failed("cannot connect to \(origin)", "connection refused or host unreachable")
        case .networkConnectionLost:
            return failed("connection to \(origin) lost", "closed by the server")
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected,
            .clientCertificateRequired:
            return failed("TLS with \(origin) failed", "handshake or certificate refused")
        case .badServerResponse:
            return failed("\(origin) sent a malformed answer", "not HTTP")
        default:
            return failed("request to \(origin) failed", "URLError \(error.code.rawValue)")
        }
    }

    /// scheme://host:port of `url`, for messages.
    private static func origin(of url: URL?) -> String {
        guard let url, let scheme = url.scheme, let host = url.host else { return "the server" }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return url.port.map { "\(scheme)://\(shownHost):\($0)" } ?? "\(scheme)://\(shownHost)"
    }
}
