import Testing

/// Polls `condition` until it holds, and returns how long that took: for what a test can only
/// observe from outside (another process's answers, a service's received requests). A thrown
/// error counts as not yet (an instance restarting refuses connections); past `limit` the test
/// fails, naming `what` and the last error.
@discardableResult
func eventually(_ what: String, within limit: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async throws -> Duration {
    let start = ContinuousClock.now
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return ContinuousClock.now - start }
        } catch {
            lastError = error
        }
        guard ContinuousClock.now - start < limit else {
            let last = lastError.map { "; last error: \($0)" } ?? ""
            Issue.record("never within \(limit): \(what)\(last)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
