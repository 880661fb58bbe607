import Testing

/// Polls `condition` until it holds, failing the test after 30 s: for what a test can only
/// observe from outside (a service's received requests, a daemon's status), not await.
func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
