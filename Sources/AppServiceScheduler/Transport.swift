/// Delivers a transaction to an application service: the Matrix AS API over HTTP in
/// `AppServiceHTTP`, scripted responses in tests.
///
/// A transport makes one attempt per call and never retries: retrying belongs to the
/// scheduler's recoverer. It bounds each attempt with its own timeout.
public protocol Transport: Sendable {
    /// Sends `transaction` once and reports how it went.
    func send(_ transaction: OutgoingTransaction) async -> SendOutcome
}

/// The result of one delivery attempt.
public enum SendOutcome: Sendable, Equatable {
    /// The service accepted the transaction (for HTTP: a 2xx answer with a JSON body).
    case delivered
    /// The attempt failed: transport error, timeout, non-2xx, or a 2xx without a JSON body.
    case failed(reason: String)
}
