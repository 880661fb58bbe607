import AppServiceScheduler

/// The scheduler on a data directory with no service configured, for the offline commands that
/// write (`compact`, `purge-service`): it takes the writer lock, sends nothing and does not
/// compact on its own.
enum OfflineScheduler {
    /// Offline, nothing is delivered: no service is configured, so this is never called.
    private struct NoTransport: Transport {
        func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
            preconditionFailure("an offline command sends nothing")
        }
    }

    /// Opens the scheduler on `directory`, runs `body` with it, and closes it, also when `body` throws.
    static func run(on directory: String, _ body: (AppServiceScheduler) async throws -> Void) async throws {
        var configuration = SchedulerConfiguration()
        configuration.log.preallocation = .none
        configuration.compactAfterSealedSegments = nil
        let scheduler = try await AppServiceScheduler.open(directory: directory, services: [], transport: NoTransport(),
                                                           clock: SystemClock(), configuration: configuration)
        do {
            try await body(scheduler)
        } catch {
            try? await scheduler.close()
            throw error
        }
        try await scheduler.close()
    }
}
