// HTTPRequestBuilder.swift: turns an HTTPRequestSpec into the PreparedRequest that
// HTTPClient sends: checks the URL (absolute, http or https, with a host), appends
// the query, sets the headers and body; and builds the request a followed redirect
// sends (the method per RFC 9110, credentials only to the origin they were meant for).
//
// Fails only with HTTPClientError.invalidURL, before anything is sent.

import Foundation

/// One request as it goes on the wire: method, URL, header fields, body.
struct PreparedRequest: Sendable, Equatable {
    struct Field: Sendable, Equatable {
        var name: String
        var value: String
    }

    var method: String
    var url: URL
    /// In the order they are sent; names are HTTP tokens, values have no CR, LF or NUL.
    var fields: [Field]
    /// Nil: no body (never one with GET or HEAD).
    var body: [UInt8]?

    /// The value of the field named `name` (ASCII case ignored), or nil.
    func value(of name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Builds PreparedRequests for HTTPClient. Pure functions, no I/O.
enum HTTPRequestBuilder {
    /// Headers that carry credentials; dropped when a redirect leaves the origin.
    static let credentialHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    /// The request for `spec`, or `invalidURL` naming the URL and what is wrong with it.
    static func request(for spec: HTTPRequestSpec) throws(HTTPClientError) -> PreparedRequest {
        let url = try url(for: spec)
        let fields = spec.headers.sorted(by: { $0.key < $1.key }).filter { isToken($0.key) }
            .map { PreparedRequest.Field(name: $0.key, value: sanitizedHeaderValue($0.value)) }
        let body = spec.method == "GET" || spec.method == "HEAD" ? nil : spec.body
        return PreparedRequest(method: spec.method, url: url, fields: fields, body: body)
    }

    /// The URL to send to: `spec.url` checked, with `spec.query` appended.
    static func url(for spec: HTTPRequestSpec) throws(HTTPClientError) -> URL {
        func invalid(_ reason: String) -> HTTPClientError {
            .invalidURL("invalid URL \(quoted(spec.url)): \(reason)")
        }
        guard var components = URLComponents(string: spec.url) else {
            throw invalid("not a URL")
        }
        guard let scheme = components.scheme?.lowercased() else {
            throw invalid("not an absolute URL (expected http:// or https://)")
        }
        guard scheme == "http" || scheme == "https" else {
            throw invalid("the scheme \(quoted(scheme)) is not supported (expected http or https)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw invalid("no host")
        }
        if !spec.query.isEmpty {
            let appended = encodedQuery(spec.query)
            if let existing = components.percentEncodedQuery, !existing.isEmpty {
                components.percentEncodedQuery = existing + "&" + appended
            } else {
                components.percentEncodedQuery = appended
            }
        }
        guard let url = components.url, url.host != nil else {
            throw invalid("not a URL")
        }
        return url
    }

    /// `key=value` pairs joined by "&", keys sorted by their UTF-8 bytes, both percent-encoded.
    static func encodedQuery(_ query: [String: String]) -> String {
        query.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { percentEncoded($0.key) + "=" + percentEncoded($0.value) }
            .joined(separator: "&")
    }

    /// `text` with every byte but the unreserved ones (RFC 3986: A-Z a-z 0-9 - . _ ~)
    /// written as %XX of its UTF-8 encoding.
    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                encoded.unicodeScalars.append("%")
                encoded.unicodeScalars.append(hex[Int(byte >> 4)])
                encoded.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return encoded
    }

    /// Whether `name` is an RFC 9110 token, i.e. a valid header field name.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "a")...UInt8(ascii: "z"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// `value` with CR, LF and NUL replaced by spaces (RFC 9110 section 5.5), so an
    /// interpolated value cannot end its header line and start another.
    static func sanitizedHeaderValue(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else { return value }
        var scalars = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            scalars.append(scalar == "\r" || scalar == "\n" || scalar == "\0" ? " " : scalar)
        }
        return String(scalars)
    }

    /// Statuses whose Location is followed.
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// The request a redirect answered with `status` leads to at `target`: 303 (and 301
    /// or 302 after a POST, as browsers and curl do) turns into a GET without a body;
    /// 307 and 308 repeat the method and body. Credential headers are removed when the
    /// scheme, host or port changes, as curl and browsers do.
    static func redirect(_ previous: PreparedRequest, to target: URL, status: Int) -> PreparedRequest {
        var next = previous
        next.url = target
        let becomesGet = (status == 303 && previous.method != "HEAD") || ((status == 301 || status == 302) && previous.method == "POST")
        if becomesGet {
            next.method = "GET"
            next.body = nil
            next.fields.removeAll { ["content-type", "content-length"].contains($0.name.lowercased()) }
        }
        if !sameOrigin(previous.url, target) {
            next.fields.removeAll { credentialHeaders.contains($0.name.lowercased()) }
        }
        return next
    }

    /// Whether two URLs have the same scheme, host and (effective) port.
    static func sameOrigin(_ first: URL, _ second: URL) -> Bool {
        func origin(_ url: URL) -> (String, String, Int) {
            let scheme = url.scheme?.lowercased() ?? ""
            return (scheme, url.host?.lowercased() ?? "", url.port ?? (scheme == "https" ? 443 : 80))
        }
        return origin(first) == origin(second)
    }

    /// `text` in double quotes, cut to 200 characters, for error messages.
    static func quoted(_ text: String) -> String {
        let shown = text.count > 200 ? String(text.prefix(200)) + "..." : text
        return "\"" + shown + "\""
    }
}
