// HTTPClient.swift: performs the request of one `http:` step attempt on the calling
// worker thread, and redacts credentials from texts that may show them.
//
// Each request is its own libcurl transfer (LibCurl.swift; libcurl is loaded on the
// first request, so an idle daemon carries none of it): no cookies, no cache, no
// connection reuse between steps. Redirects (301, 302, 303, 307, 308) are followed
// here, up to 5; the answer to the 6th is returned as the response; credential
// headers never follow a redirect to another origin. Proxies are libcurl's own rules:
// `http_proxy` for http://, `https_proxy`/`HTTPS_PROXY` for https://, `all_proxy`,
// `no_proxy`; none is used when these are unset.
//
// The transfer waits on its sockets and on an eventfd that the caller's
// ProcessCancellation writes, with the request's deadline: a cancel or the timeout
// stops it at once. The body is cut at `maxResponseBytes` and the transfer stops there.
//
// Failures are returned as HTTPClientError (invalid URL, connection failures,
// timeout, cancellation, no libcurl); any HTTP status is a response. Nothing traps on
// bad input.

import Foundation

/// The blocking HTTP client of the engine's workers.
public enum HTTPClient {
    /// Redirects followed per request; the response to the one after is returned as is.
    public static let maximumRedirects = 5

    /// Performs one request, blocking the calling (worker) thread. A ProcessCancellation
    /// lets another thread abort it (shutdown, run cancel); one that already fired
    /// returns `cancelled` without sending anything.
    ///
    /// Every HTTP status is a response. Errors: `invalidURL` before sending,
    /// `connectionFailed` (DNS, refused, TLS, connection lost, malformed answer, no
    /// libcurl), `timedOut` when the whole exchange takes longer than `spec.timeout`,
    /// `cancelled`.
    public static func perform(
        _ spec: HTTPRequestSpec, cancellation: ProcessCancellation? = nil
    ) throws(HTTPClientError) -> HTTPResponse {
        let startedAt = ContinuousClock.now
        let deadline = startedAt + spec.timeout
        if let cancellation, cancellation.isCancelled { throw .cancelled }
        var request = try HTTPRequestBuilder.request(for: spec)

        let wakeDescriptor: Int32
        do {
            wakeDescriptor = try ProcessSystem.makeEventDescriptor()
        } catch {
            throw .connectionFailed("cannot wait for an answer from \(origin(of: request.url)): \(error)")
        }
        defer { ProcessSystem.close(wakeDescriptor) }
        if let cancellation, cancellation.register(wakeDescriptor: wakeDescriptor) { throw .cancelled }
        defer { cancellation?.unregister(wakeDescriptor: wakeDescriptor) }

        var redirects = 0
        while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { throw .timedOut(spec.timeout) }
            let exchange = LibCurl.perform(request, timeout: remaining, maxBodyBytes: spec.maxResponseBytes,
                                           wakeDescriptor: wakeDescriptor)
            let origin = origin(of: request.url)
            switch exchange.outcome {
            case .response: break
            case .timedOut: throw .timedOut(spec.timeout)
            case .cancelled: throw .cancelled
            case .badURL:
                throw .invalidURL("invalid URL \(HTTPRequestBuilder.quoted(request.url.absoluteString)): \(exchange.message)")
            case .resolveFailed: throw .connectionFailed("cannot resolve the host of \(origin): \(exchange.message)")
            case .connectFailed: throw .connectionFailed("cannot connect to \(origin): \(exchange.message)")
            case .tlsFailed: throw .connectionFailed("TLS with \(origin) failed: \(exchange.message)")
            case .protocolError: throw .connectionFailed("\(origin) sent a malformed or incomplete answer: \(exchange.message)")
            case .unavailable: throw .connectionFailed(exchange.message)
            case .other: throw .connectionFailed("request to \(origin) failed: \(exchange.message)")
            }
            if HTTPRequestBuilder.redirectStatuses.contains(exchange.status), redirects < maximumRedirects,
               let location = exchange.redirectURL, let target = URL(string: location),
               let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" {
                redirects += 1
                request = HTTPRequestBuilder.redirect(request, to: target, status: exchange.status)
                continue
            }
            return HTTPResponse(
                status: exchange.status, headers: lowercasedHeaders(exchange.headerLines), body: exchange.body,
                bodyTruncated: exchange.bodyTruncated, duration: ContinuousClock.now - startedAt)
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

    /// Header names lowercased; names that differ only in case are joined with ", " (in
    /// the order they came); lines without a colon (the status line) are skipped.
    static func lowercasedHeaders(_ lines: [String]) -> [String: String] {
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            if let existing = headers[name] {
                headers[name] = existing + ", " + value
            } else {
                headers[name] = value
            }
        }
        return headers
    }

    /// scheme://host:port of `url`, for messages.
    private static func origin(of url: URL?) -> String {
        guard let url, let scheme = url.scheme, let host = url.host else { return "the server" }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return url.port.map { "\(scheme)://\(shownHost):\($0)" } ?? "\(scheme)://\(shownHost)"
    }
}
