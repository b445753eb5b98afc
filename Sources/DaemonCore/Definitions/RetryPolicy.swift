// RetryPolicy.swift: when a failed step attempt is tried again (Temporal's model).
//
// A value type with the defaults of SPEC section 4; the loader checks the ranges, so
// `delay(beforeAttempt:)` never fails. Jitter is applied by the engine, which owns
// randomness.

/// How a step is retried after a failed attempt.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included; 1 = no retry, 0 = unlimited.
    public var maxAttempts: Int = 1
    /// Delay before the second attempt.
    public var initialInterval: Duration = .seconds(1)
    /// Each later delay is the previous one times this (≥ 1.0).
    public var backoffCoefficient: Double = 2.0
    /// Cap on any delay; default 100 × initialInterval.
    public var maximumInterval: Duration = .seconds(100)
    /// Spread each delay randomly over [delay/2, delay].
    public var jitter: Bool = false
    /// Exit codes or HTTP statuses that are never retried.
    public var nonRetryable: [Int] = []

    public init() {}

    /// The delay before attempt `attempt` (2 for the first retry), without jitter.
    public func delay(beforeAttempt attempt: Int) -> Duration {
        precondition(attempt >= 2, "the first attempt has no delay")
        let initial = Double(initialInterval.milliseconds)
        let cap = Double(maximumInterval.milliseconds)
        var milliseconds = initial
        for _ in 2..<min(attempt, 200) {
            milliseconds *= backoffCoefficient
            if milliseconds >= cap { break }
        }
        return .milliseconds(Int64(min(milliseconds, cap)))
    }

    /// Whether another attempt is allowed after `attempt` failed with `code`.
    public func allowsRetry(after attempt: Int, code: Int?) -> Bool {
        if let code, nonRetryable.contains(code) { return false }
        return maxAttempts == 0 || attempt < maxAttempts
    }
}
