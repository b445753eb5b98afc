// HTTPTransfer.swift: the URLSession delegate of one request. It keeps the first
// `maxBodyBytes` of the body and stops the transfer when the server sends more (so a
// 50 MiB answer never sits in memory), follows at most `maxRedirects` redirects
// (dropping credentials when one leaves the origin), and when the task ends records
// how and wakes the waiting worker thread through its eventfd.
//
// Cannot fail itself; a failed transfer is recorded as the task's error for
// HTTPClient to report.

import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Collects one task's response for a worker thread that waits on an eventfd.
/// Delegate calls arrive on the session's serial delegate queue; the worker reads
/// the result after the wake-up. Thread-safe.
final class HTTPTransfer: NSObject, URLSessionDataDelegate, Sendable {
    /// What the worker learns when the task has ended.
    struct Result {
        /// The final response's head; nil when none arrived.
        var response: HTTPURLResponse?
        var body: [UInt8]
        var bodyTruncated: Bool
        /// The task's error; nil when a response arrived (complete or cut at the limit).
        var error: URLError?
    }

    private struct State {
        var response: HTTPURLResponse?
        var body: [UInt8] = []
        var bodyTruncated = false
        var redirectsFollowed = 0
        /// Set once, when the task has ended.
        var result: Result?
        /// The eventfd written when the task ends; nil once the worker has detached
        /// (it closes the descriptor after that, so nobody may write to it any more).
        var wakeDescriptor: Int32?
    }

    private let maxBodyBytes: Int
    private let maxRedirects: Int
    /// All mutable state, guarded by this mutex.
    private let state: Mutex<State>

    init(maxBodyBytes: Int, maxRedirects: Int, wakeDescriptor: Int32) {
        self.maxBodyBytes = maxBodyBytes
        self.maxRedirects = maxRedirects
        self.state = Mutex(State(wakeDescriptor: wakeDescriptor))
    }

    /// The outcome once the task has ended, else nil.
    var result: Result? {
        state.withLock { $0.result }
    }

    /// Stops all further wake-ups; after this returns the eventfd may be closed.
    func detach() {
        state.withLock { $0.wakeDescriptor = nil }
    }

    // MARK: URLSession delegate

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @Sendable @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if let response = response as? HTTPURLResponse {
            state.withLock { $0.response = response }
        }
        completionHandler(.allow)
    }

    /// Keeps the body up to the limit. Past it, the result is final at once (the worker
    /// need not wait for the cancelled task to wind down) and the task is cancelled.
    /// URLSession queues received data for this queue without backpressure, so a
    /// sender faster than this delegate fills memory before the cancel lands; at
    /// network speeds the queue stays short.
    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let overflowed = state.withLock { state -> Bool in
            guard state.result == nil else { return false }
            let room = maxBodyBytes - state.body.count
            if data.count <= room {
                state.body.append(contentsOf: data)
                return false
            }
            state.body.append(contentsOf: data.prefix(room))
            state.bodyTruncated = true
            finish(&state, response: state.response, error: nil)
            return true
        }
        if overflowed { dataTask.cancel() }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @Sendable @escaping (URLRequest?) -> Void
    ) {
        let follow = state.withLock { state -> Bool in
            guard state.redirectsFollowed < maxRedirects else { return false }
            state.redirectsFollowed += 1
            return true
        }
        completionHandler(follow ? HTTPRequestBuilder.redirectRequest(request, from: response.url) : nil)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @Sendable @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        // Server trust is checked by libcurl as usual; nobody answers a 401 for the step.
        completionHandler(.performDefaultHandling, nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let finalResponse = task.response as? HTTPURLResponse
        state.withLock { state in
            guard state.result == nil else { return }
            finish(&state, response: finalResponse ?? state.response, error: error.map(Self.urlError))
        }
    }

    /// Records the result and wakes the worker. Called with the lock held, once.
    private func finish(_ state: inout State, response: HTTPURLResponse?, error: URLError?) {
        state.result = Result(response: response, body: state.body, bodyTruncated: state.bodyTruncated, error: error)
        state.body = []
        if let descriptor = state.wakeDescriptor {
            ProcessSystem.signalEvent(descriptor)
        }
    }

    /// `error` as a URLError; URLSession on Linux may hand over a bridged NSError.
    private static func urlError(_ error: Error) -> URLError {
        if let urlError = error as? URLError { return urlError }
        let nsError = error as NSError
        let code = nsError.domain == NSURLErrorDomain ? URLError.Code(rawValue: nsError.code) ?? .unknown : .unknown
        return URLError(code, userInfo: nsError.userInfo.merging([NSUnderlyingErrorKey: nsError]) { first, _ in first })
    }
}
