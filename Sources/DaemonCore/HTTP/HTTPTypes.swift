// HTTPTypes.swift: the values of an `http:` step attempt: what to send
// (HTTPRequestSpec), what came back (HTTPResponse and its step output per SPEC
// section 2), and why nothing came back (HTTPClientError). HTTPClient does the work.
//
// Nothing here fails: a response body that is not valid JSON, or not valid UTF-8,
// still becomes a step output (the text, with invalid bytes replaced).

/// Everything HTTPClient needs to send one request. The engine fills it after
/// template interpolation; the loader has already validated the method and header names.
public struct HTTPRequestSpec: Sendable {
    /// The request method, e.g. "GET", "POST", "PUT"; sent as given.
    public var method: String
    /// An absolute http:// or https:// URL. Anything else fails with `invalidURL`.
    public var url: String
    /// Request headers. Names must be HTTP tokens (others are not sent); a CR, LF
    /// or NUL in a value is replaced by a space so a value can never start a new header.
    public var headers: [String: String] = [:]
    /// Query parameters appended to the URL (after any query it already has),
    /// keys sorted, keys and values percent-encoded (everything but A-Z a-z 0-9 - . _ ~).
    public var query: [String: String] = [:]
    /// The request body, already serialized. Not sent with GET (libcurl's URLSession
    /// refuses a GET body). A POST body without a Content-Type header is sent as
    /// `application/x-www-form-urlencoded` by URLSession; set the header to say otherwise.
    public var body: [UInt8]?
    /// Limit of the whole request: connect, send, wait, receive.
    public var timeout: Duration = .seconds(30)
    /// Response body bytes kept; past this the transfer stops and `bodyTruncated` is set.
    public var maxResponseBytes: Int = 1024 * 1024

    public init(method: String, url: String) {
        self.method = method
        self.url = url
    }
}

/// The answer to one request, whatever its status: a 404 or a 500 is a response,
/// not an error (the engine decides with `expect:` and `non_retryable`).
public struct HTTPResponse: Sendable {
    /// The HTTP status code of the final response (after redirects).
    public var status: Int
    /// Response headers; names lowercased, repeated headers joined with ", ".
    public var headers: [String: String]
    /// The body as received (decoded when the server compressed it), at most
    /// `maxResponseBytes` of it.
    public var body: [UInt8]
    /// The server sent more than `maxResponseBytes`; `body` holds the first bytes.
    public var bodyTruncated: Bool
    /// From the start of the request to the end of the response.
    public var duration: Duration

    public init(status: Int, headers: [String: String], body: [UInt8], bodyTruncated: Bool, duration: Duration) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.duration = duration
    }

    /// The step's output per SPEC: {"status": Int, "headers": {...}, "body": parsed JSON
    /// when the content type is JSON (application/json or +json) and it parses, else
    /// the text (lossy UTF-8)}.
    public var stepOutput: JSONValue {
        .object([
            "status": .int(Int64(status)),
            "headers": .object(headers.mapValues { .string($0) }),
            "body": bodyValue,
        ])
    }

    /// Whether the Content-Type names JSON: `application/json` or any `+json` type,
    /// parameters (charset) ignored.
    public var hasJSONContentType: Bool {
        guard let contentType = headers["content-type"] else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    private var bodyValue: JSONValue {
        if hasJSONContentType, !bodyTruncated, let parsed = try? JSONValue.parse(body) {
            return parsed
        }
        return .string(String(decoding: body, as: UTF8.self))
    }
}

/// Why a request produced no response. The associated texts are complete messages.
public enum HTTPClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// `invalid URL "...": ...`, also for schemes other than http and https.
    case invalidURL(String)
    /// DNS, connection refused, TLS, connection lost: what went wrong and where.
    case connectionFailed(String)
    /// No complete answer within the request's timeout.
    case timedOut(Duration)
    /// The caller's ProcessCancellation fired (shutdown, run cancelled).
    case cancelled

    public var description: String {
        switch self {
        case .invalidURL(let message): return message
        case .connectionFailed(let message): return message
        case .timedOut(let limit): return "no answer within \(DurationText.format(limit))"
        case .cancelled: return "request cancelled"
        }
    }
}
