// HTTPRequestBuilder.swift: turns an HTTPRequestSpec into the URLRequest that
// URLSession sends: checks the URL (absolute, http or https, with a host), appends
// the query, sets the headers and body; and decides what a followed redirect may
// carry along (credentials stay with the origin they were meant for).
//
// Fails only with HTTPClientError.invalidURL, before anything is sent.

import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Builds URLRequests for HTTPClient. Pure functions, no I/O.
enum HTTPRequestBuilder {
    /// Headers that carry credentials; dropped when a redirect leaves the origin.
    static let credentialHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    /// The request for `spec`, or `invalidURL` naming the URL and what is wrong with it.
    static func request(for spec: HTTPRequestSpec) throws(HTTPClientError) -> URLRequest {
        let url = try url(for: spec)
        var request = URLRequest(url: url)
        request.httpMethod = spec.method
        for (name, value) in spec.headers.sorted(by: { $0.key < $1.key }) where isToken(name) {
            request.setValue(sanitizedHeaderValue(value), forHTTPHeaderField: name)
        }
        if let body = spec.body, spec.method != "GET" {
            request.httpBody = Data(body)
        }
        return request
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

    /// The request to send for a redirect from `previous` to `proposed` (URLSession's
    /// proposal, which copies every header): credentials headers are removed when the
    /// scheme, host or port changes, as curl and browsers do.
    static func redirectRequest(_ proposed: URLRequest, from previous: URL?) -> URLRequest {
        guard let target = proposed.url, let previous, !sameOrigin(previous, target) else { return proposed }
        var request = proposed
        for name in request.allHTTPHeaderFields?.keys.map({ $0 }) ?? []
        where credentialHeaders.contains(name.lowercased()) {
            request.setValue(nil, forHTTPHeaderField: name)
        }
        return request
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
