// CCurlShim: one HTTP exchange through libcurl, loaded with dlopen on first use.
//
// flowd links no HTTP library: the daemon's idle footprint stays free of libcurl and
// the dozen libraries it pulls in (TLS, HTTP/2, IDN, ...). The first http step loads
// libcurl.so.4; a host without it gets a clear step error, not a daemon that fails
// to start. Only HTTP/LibCurl.swift calls this.
#ifndef FLOWD_CURL_SHIM_H
#define FLOWD_CURL_SHIM_H

#include <stddef.h>

/// How an exchange ended.
enum flowd_http_outcome {
    FLOWD_HTTP_OK = 0,          // a response arrived (any status), possibly cut at the limit
    FLOWD_HTTP_TIMED_OUT = 1,   // the deadline passed
    FLOWD_HTTP_CANCELLED = 2,   // the wake descriptor became readable
    FLOWD_HTTP_RESOLVE = 3,     // the host (or proxy) name did not resolve
    FLOWD_HTTP_CONNECT = 4,     // no connection (refused, unreachable)
    FLOWD_HTTP_TLS = 5,         // handshake or certificate refused
    FLOWD_HTTP_PROTOCOL = 6,    // the server's answer was not HTTP, or it closed early
    FLOWD_HTTP_BAD_URL = 7,     // libcurl refused the URL
    FLOWD_HTTP_OTHER = 8,       // anything else; message says what
    FLOWD_HTTP_UNAVAILABLE = 9, // libcurl could not be loaded; message says why
};

struct flowd_http_request {
    const char *method;
    const char *url;
    /// "Name: value" lines.
    const char *const *headers;
    size_t header_count;
    /// NULL: no body.
    const unsigned char *body;
    size_t body_length;
    /// Milliseconds for the whole exchange, at least 1.
    long timeout_ms;
    /// Body bytes kept; past this the transfer stops and body_truncated is set.
    size_t max_body_bytes;
    /// An eventfd that becomes readable when the caller cancels; -1: none.
    int wake_fd;
};

struct flowd_http_result {
    enum flowd_http_outcome outcome;
    long status;
    /// The final response's header lines ("Name: value\r\n"...), malloc'd.
    char *headers;
    size_t headers_length;
    /// The body (at most max_body_bytes), malloc'd.
    unsigned char *body;
    size_t body_length;
    int body_truncated;
    /// Where a 3xx response points (absolute), malloc'd; NULL when none.
    char *redirect_url;
    /// libcurl's words for a failure.
    char message[256];
};

/// Performs one exchange (no redirect is followed). Always fills `result`; release it
/// with flowd_http_result_free.
void flowd_http_perform(const struct flowd_http_request *request, struct flowd_http_result *result);
void flowd_http_result_free(struct flowd_http_result *result);

#endif
