// LibCurl.swift: the one Swift file that calls CCurlShim (libcurl through dlopen).
//
// One exchange, no redirect followed, on the calling thread: the C side drives a
// libcurl multi handle and waits on the sockets and the caller's wake descriptor, so
// a cancel ends it at once, and the deadline is its own. Nothing here throws; the
// outcome says how the exchange ended.

import CCurlShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The outcome of one exchange, copied out of C.
struct CurlExchange: Sendable {
    enum Outcome: Sendable, Equatable {
        case response, timedOut, cancelled, resolveFailed, connectFailed, tlsFailed, protocolError, badURL, other, unavailable
    }

    var outcome: Outcome
    var status: Int
    /// The final response's header lines, "Name: value" each.
    var headerLines: [String]
    var body: [UInt8]
    var bodyTruncated: Bool
    /// The absolute URL a 3xx answer points to.
    var redirectURL: String?
    /// libcurl's words when the outcome is a failure.
    var message: String
}

enum LibCurl {
    /// Sends `request` and waits for the answer at most `timeout`.
    static func perform(_ request: PreparedRequest, timeout: Duration, maxBodyBytes: Int, wakeDescriptor: Int32) -> CurlExchange {
        let headerLines = request.fields.map { "\($0.name): \($0.value)" }
        let cHeaders = headerLines.map { strdupOrAbort($0) }
        defer { cHeaders.forEach { free($0) } }
        var result = flowd_http_result()
        let (seconds, attoseconds) = timeout.components
        // Rounded up: the exchange never ends before the caller's deadline.
        let milliseconds = max(1, seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        request.method.withCString { method in
            request.url.absoluteString.withCString { url in
                cHeaders.map { UnsafePointer<CChar>?(UnsafePointer($0)) }.withUnsafeBufferPointer { headers in
                    func send(_ body: UnsafePointer<UInt8>?, _ length: Int) {
                        var spec = flowd_http_request(
                            method: method, url: url, headers: headers.baseAddress, header_count: headers.count,
                            body: body, body_length: length, timeout_ms: Int(milliseconds),
                            max_body_bytes: max(0, maxBodyBytes), wake_fd: wakeDescriptor)
                        flowd_http_perform(&spec, &result)
                    }
                    if let body = request.body {
                        body.withUnsafeBufferPointer { bytes in
                            // A zero-length body still needs a non-nil pointer ("send an empty body").
                            if let base = bytes.baseAddress { send(base, bytes.count) } else { [UInt8(0)].withUnsafeBufferPointer { send($0.baseAddress, 0) } }
                        }
                    } else {
                        send(nil, 0)
                    }
                }
            }
        }
        defer { flowd_http_result_free(&result) }
        let body = result.body.map { Array(UnsafeBufferPointer(start: $0, count: result.body_length)) } ?? []
        let headerText = result.headers.map { pointer in
            String(decoding: UnsafeRawBufferPointer(start: pointer, count: result.headers_length).bindMemory(to: UInt8.self), as: UTF8.self)
        } ?? ""
        let message = withUnsafeBytes(of: result.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return CurlExchange(
            outcome: outcome(result.outcome), status: Int(result.status),
            headerLines: headerText.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init),
            body: body, bodyTruncated: result.body_truncated != 0,
            redirectURL: result.redirect_url.map { String(cString: $0) }, message: message)
    }

    private static func outcome(_ value: flowd_http_outcome) -> CurlExchange.Outcome {
        switch value {
        case FLOWD_HTTP_OK: .response
        case FLOWD_HTTP_TIMED_OUT: .timedOut
        case FLOWD_HTTP_CANCELLED: .cancelled
        case FLOWD_HTTP_RESOLVE: .resolveFailed
        case FLOWD_HTTP_CONNECT: .connectFailed
        case FLOWD_HTTP_TLS: .tlsFailed
        case FLOWD_HTTP_PROTOCOL: .protocolError
        case FLOWD_HTTP_BAD_URL: .badURL
        case FLOWD_HTTP_UNAVAILABLE: .unavailable
        default: .other
        }
    }

    private static func strdupOrAbort(_ text: String) -> UnsafeMutablePointer<CChar> {
        guard let copy = strdup(text) else { preconditionFailure("out of memory copying a header line") }
        return copy
    }
}
