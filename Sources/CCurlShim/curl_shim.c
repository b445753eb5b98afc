// curl_shim.c: libcurl through dlopen, one exchange per call on the calling thread.
//
// The few libcurl entry points and constants used here are declared locally (they are
// libcurl's stable ABI since 7.66, the first with curl_multi_poll), so the build needs
// no libcurl headers. A multi handle drives the transfer so that the wait can include
// the caller's wake descriptor: a cancel ends the exchange at once. Failures are
// reported in the result, never by aborting.

#define _GNU_SOURCE
#include "CCurlShim.h"

#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void CURL;
typedef void CURLM;
typedef int CURLcode;
typedef int CURLMcode;
struct curl_slist;
struct curl_waitfd { int fd; short events; short revents; };
typedef struct { int msg; CURL *easy_handle; union { void *whatever; CURLcode result; } data; } CURLMsg;

enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_ERRORBUFFER = 10010, OPT_WRITEFUNCTION = 20011,
    OPT_POSTFIELDS = 10015, OPT_USERAGENT = 10018, OPT_HTTPHEADER = 10023, OPT_HEADERDATA = 10029,
    OPT_CUSTOMREQUEST = 10036, OPT_NOBODY = 44, OPT_POST = 47, OPT_FOLLOWLOCATION = 52,
    OPT_HTTPGET = 80, OPT_NOSIGNAL = 99, OPT_ACCEPT_ENCODING = 10102, OPT_HEADERFUNCTION = 20079,
    OPT_TIMEOUT_MS = 155, OPT_POSTFIELDSIZE_LARGE = 30120, OPT_PROTOCOLS = 181,
};
enum { INFO_RESPONSE_CODE = 0x200002, INFO_REDIRECT_URL = 0x10001F };
enum { PROTO_HTTP = 1, PROTO_HTTPS = 2, GLOBAL_DEFAULT = 3, MSG_DONE = 1 };
enum {
    E_OK = 0, E_UNSUPPORTED_PROTOCOL = 1, E_URL_MALFORMAT = 3, E_COULDNT_RESOLVE_PROXY = 5,
    E_COULDNT_RESOLVE_HOST = 6, E_COULDNT_CONNECT = 7, E_WEIRD_SERVER_REPLY = 8, E_PARTIAL_FILE = 18,
    E_WRITE_ERROR = 23, E_OPERATION_TIMEDOUT = 28, E_SSL_CONNECT_ERROR = 35, E_GOT_NOTHING = 52,
    E_SEND_ERROR = 55, E_RECV_ERROR = 56, E_SSL_CERTPROBLEM = 58, E_SSL_CIPHER = 59,
    E_PEER_FAILED_VERIFICATION = 60, E_SSL_CACERT_BADFILE = 77,
};

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, int, ...);
    CURLcode (*easy_getinfo)(CURL *, int, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
} curl;
static char load_error[200];
static int loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load_libcurl(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(load_error, sizeof load_error, "http steps need libcurl (Debian package libcurl4): %s", dlerror());
        return;
    }
    struct { void **slot; const char *name; } symbols[] = {
        {(void **)&curl.global_init, "curl_global_init"},
        {(void **)&curl.easy_init, "curl_easy_init"},
        {(void **)&curl.easy_setopt, "curl_easy_setopt"},
        {(void **)&curl.easy_getinfo, "curl_easy_getinfo"},
        {(void **)&curl.easy_cleanup, "curl_easy_cleanup"},
        {(void **)&curl.easy_strerror, "curl_easy_strerror"},
        {(void **)&curl.slist_append, "curl_slist_append"},
        {(void **)&curl.slist_free_all, "curl_slist_free_all"},
        {(void **)&curl.multi_init, "curl_multi_init"},
        {(void **)&curl.multi_add_handle, "curl_multi_add_handle"},
        {(void **)&curl.multi_remove_handle, "curl_multi_remove_handle"},
        {(void **)&curl.multi_perform, "curl_multi_perform"},
        {(void **)&curl.multi_poll, "curl_multi_poll"},
        {(void **)&curl.multi_info_read, "curl_multi_info_read"},
        {(void **)&curl.multi_cleanup, "curl_multi_cleanup"},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(library, symbols[i].name);
        if (*symbols[i].slot == NULL) {
            snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s (libcurl 7.66 or later is needed)", symbols[i].name);
            return;
        }
    }
    if (curl.global_init(GLOBAL_DEFAULT) != E_OK) {
        snprintf(load_error, sizeof load_error, "libcurl could not initialize (curl_global_init failed)");
        return;
    }
    loaded = 1;
}

/// A growing byte buffer with a cap; past the cap it records that it was cut.
struct buffer {
    char *bytes;
    size_t length, capacity, limit;
    int truncated, failed;
};

static int buffer_append(struct buffer *buffer, const char *bytes, size_t count) {
    size_t room = buffer->limit - buffer->length;
    size_t kept = count < room ? count : room;
    if (kept > 0 && buffer->length + kept > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->length + kept) capacity *= 2;
        if (capacity > buffer->limit) capacity = buffer->limit;  // still >= length + kept
        char *grown = realloc(buffer->bytes, capacity);
        if (grown == NULL) { buffer->failed = 1; return 0; }
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    if (kept > 0) memcpy(buffer->bytes + buffer->length, bytes, kept);
    buffer->length += kept;
    if (kept < count) buffer->truncated = 1;
    return kept == count;
}

static size_t on_body(char *bytes, size_t size, size_t count, void *context) {
    // Returning less than given stops the transfer: the body is cut at the limit.
    return buffer_append(context, bytes, size * count) ? size * count : 0;
}

static size_t on_header(char *bytes, size_t size, size_t count, void *context) {
    struct buffer *headers = context;
    size_t length = size * count;
    // A status line starts a new response (after a 100 Continue, say): keep the last.
    if (length >= 5 && memcmp(bytes, "HTTP/", 5) == 0) headers->length = 0;
    if (length == 2 && bytes[0] == '\r') return length;
    buffer_append(headers, bytes, length);
    return length;
}

static long milliseconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static enum flowd_http_outcome outcome_of(CURLcode code) {
    switch (code) {
    case E_OPERATION_TIMEDOUT: return FLOWD_HTTP_TIMED_OUT;
    case E_COULDNT_RESOLVE_HOST: case E_COULDNT_RESOLVE_PROXY: return FLOWD_HTTP_RESOLVE;
    case E_COULDNT_CONNECT: return FLOWD_HTTP_CONNECT;
    case E_SSL_CONNECT_ERROR: case E_SSL_CERTPROBLEM: case E_SSL_CIPHER: case E_PEER_FAILED_VERIFICATION:
    case E_SSL_CACERT_BADFILE: return FLOWD_HTTP_TLS;
    case E_WEIRD_SERVER_REPLY: case E_GOT_NOTHING: case E_SEND_ERROR: case E_RECV_ERROR: case E_PARTIAL_FILE:
        return FLOWD_HTTP_PROTOCOL;
    case E_URL_MALFORMAT: case E_UNSUPPORTED_PROTOCOL: return FLOWD_HTTP_BAD_URL;
    default: return FLOWD_HTTP_OTHER;
    }
}

void flowd_http_perform(const struct flowd_http_request *request, struct flowd_http_result *result) {
    memset(result, 0, sizeof *result);
    pthread_once(&load_once, load_libcurl);
    if (!loaded) {
        result->outcome = FLOWD_HTTP_UNAVAILABLE;
        snprintf(result->message, sizeof result->message, "%s", load_error);
        return;
    }
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    struct buffer body = {.limit = request->max_body_bytes};
    struct buffer headers = {.limit = 256 * 1024};
    char error_text[256] = "";
    struct curl_slist *header_list = NULL;
    CURL *easy = curl.easy_init();
    CURLM *multi = curl.multi_init();
    if (easy == NULL || multi == NULL) {
        result->outcome = FLOWD_HTTP_OTHER;
        snprintf(result->message, sizeof result->message, "libcurl could not start a transfer (out of memory?)");
        goto done;
    }
    for (size_t i = 0; i < request->header_count; i++) {
        struct curl_slist *appended = curl.slist_append(header_list, request->headers[i]);
        if (appended == NULL) break;
        header_list = appended;
    }
    // No "Expect: 100-continue" round trip for large bodies.
    struct curl_slist *appended = curl.slist_append(header_list, "Expect:");
    if (appended != NULL) header_list = appended;

    curl.easy_setopt(easy, OPT_URL, request->url);
    curl.easy_setopt(easy, OPT_PROTOCOLS, (long)(PROTO_HTTP | PROTO_HTTPS));
    curl.easy_setopt(easy, OPT_NOSIGNAL, 1L);
    curl.easy_setopt(easy, OPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(easy, OPT_ERRORBUFFER, error_text);
    curl.easy_setopt(easy, OPT_USERAGENT, "flowd");
    curl.easy_setopt(easy, OPT_ACCEPT_ENCODING, "");
    curl.easy_setopt(easy, OPT_HTTPHEADER, header_list);
    curl.easy_setopt(easy, OPT_WRITEFUNCTION, on_body);
    curl.easy_setopt(easy, OPT_WRITEDATA, &body);
    curl.easy_setopt(easy, OPT_HEADERFUNCTION, on_header);
    curl.easy_setopt(easy, OPT_HEADERDATA, &headers);
    // libcurl's own timer is a backstop a little after ours.
    curl.easy_setopt(easy, OPT_TIMEOUT_MS, request->timeout_ms + 2000);
    if (strcmp(request->method, "GET") == 0) {
        curl.easy_setopt(easy, OPT_HTTPGET, 1L);
    } else if (strcmp(request->method, "HEAD") == 0) {
        curl.easy_setopt(easy, OPT_NOBODY, 1L);
    } else {
        if (strcmp(request->method, "POST") == 0) curl.easy_setopt(easy, OPT_POST, 1L);
        else curl.easy_setopt(easy, OPT_CUSTOMREQUEST, request->method);
        if (request->body != NULL || strcmp(request->method, "POST") == 0) {
            curl.easy_setopt(easy, OPT_POSTFIELDSIZE_LARGE, (int64_t)request->body_length);
            curl.easy_setopt(easy, OPT_POSTFIELDS, request->body != NULL ? (const char *)request->body : "");
        }
    }
    curl.multi_add_handle(multi, easy);

    CURLcode code = E_OK;
    int finished = 0;
    result->outcome = FLOWD_HTTP_OK;
    while (!finished) {
        int running = 0;
        if (curl.multi_perform(multi, &running) != 0) {
            result->outcome = FLOWD_HTTP_OTHER;
            snprintf(result->message, sizeof result->message, "libcurl's transfer loop failed");
            break;
        }
        int queued = 0;
        CURLMsg *message;
        while ((message = curl.multi_info_read(multi, &queued)) != NULL) {
            if (message->msg == MSG_DONE) {
                code = message->data.result;
                finished = 1;
            }
        }
        if (finished || running == 0) break;
        long remaining = request->timeout_ms - milliseconds_since(&started);
        if (remaining <= 0) {
            result->outcome = FLOWD_HTTP_TIMED_OUT;
            break;
        }
        struct curl_waitfd wake = {.fd = request->wake_fd, .events = POLLIN, .revents = 0};
        int ready = 0;
        curl.multi_poll(multi, request->wake_fd >= 0 ? &wake : NULL, request->wake_fd >= 0 ? 1 : 0,
                        remaining < 1000 ? (int)remaining : 1000, &ready);
        if (request->wake_fd >= 0 && (wake.revents & POLLIN)) {
            result->outcome = FLOWD_HTTP_CANCELLED;
            break;
        }
    }
    if (result->outcome == FLOWD_HTTP_OK) {
        long status = 0;
        curl.easy_getinfo(easy, INFO_RESPONSE_CODE, &status);
        int cut_at_limit = code == E_WRITE_ERROR && body.truncated && !body.failed;
        if (code != E_OK && !cut_at_limit) {
            result->outcome = outcome_of(code);
            snprintf(result->message, sizeof result->message, "%s", error_text[0] ? error_text : curl.easy_strerror(code));
        } else if (status == 0) {
            result->outcome = FLOWD_HTTP_PROTOCOL;
            snprintf(result->message, sizeof result->message, "no HTTP status in the answer");
        } else {
            result->status = status;
            char *location = NULL;
            if (status >= 300 && status < 400 && curl.easy_getinfo(easy, INFO_REDIRECT_URL, &location) == E_OK && location != NULL) {
                result->redirect_url = strdup(location);
            }
        }
    }
    curl.multi_remove_handle(multi, easy);

done:
    if (multi != NULL) curl.multi_cleanup(multi);
    if (easy != NULL) curl.easy_cleanup(easy);
    if (header_list != NULL) curl.slist_free_all(header_list);
    result->body = (unsigned char *)body.bytes;
    result->body_length = body.length;
    result->body_truncated = body.truncated;
    result->headers = headers.bytes;
    result->headers_length = headers.length;
}

void flowd_http_result_free(struct flowd_http_result *result) {
    free(result->body);
    free(result->headers);
    free(result->redirect_url);
    result->body = NULL;
    result->headers = NULL;
    result->redirect_url = NULL;
}
