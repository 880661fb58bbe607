/// How long the recoverer waits before retrying a DOWN service: `initial × 2^(n-1)` before
/// the n-th retry, never more than `maximum` (Synapse: 2 s, 4 s, 8 s … 512 s).
public struct BackoffPolicy: Sendable, Equatable {
    /// The wait before the first retry.
    public var initial: Duration = .seconds(2)
    /// The longest wait.
    public var maximum: Duration = .seconds(512)

    /// Synapse's backoff: 2 s doubling up to 512 s.
    public init() {}

    /// A custom backoff; `initial` must be positive and at most `maximum`.
    public init(initial: Duration, maximum: Duration) {
        precondition(initial > .zero && initial <= maximum, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait before retry number `counter` (from 1).
    public func delay(forRetry counter: Int) -> Duration {
        precondition(counter >= 1)
        var delay = initial
        for _ in 1..<min(counter, 63) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}
