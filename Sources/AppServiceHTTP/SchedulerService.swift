import AppServiceScheduler
import Logging
import ServiceLifecycle

/// Runs beside the HTTP server: feeds the metrics, compacts on a schedule where the store asks
/// for it, and on graceful shutdown (after the server stopped accepting) closes the scheduler,
/// which syncs the log, then the transport.
struct SchedulerService: Service {
    let scheduler: AppServiceScheduler
    let matrix: MatrixTransport?
    let metrics: SchedulerMetrics
    let logger: Logger
    /// How often to compact; nil where the store's own growth triggers compaction (the embedded
    /// log's sealed segments). A database table has no segments: without a schedule, only a
    /// drained backlog would compact it.
    var compactionInterval: Duration?

    func run() async throws {
        let events = await scheduler.events()
        let observer = Task { await metrics.observe(events, logger: logger) }
        let compactions = compactionInterval.map { interval in Task { await compact(every: interval) } }
        try? await gracefulShutdown()
        compactions?.cancel()
        await compactions?.value
        logger.info("shutting down: closing the scheduler and syncing the log")
        try await scheduler.close()
        await observer.value
        try await matrix?.shutdown()
    }

    private func compact(every interval: Duration) async {
        while true {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                _ = try await scheduler.compact()
            } catch {
                logger.warning("compaction failed", metadata: ["reason": "\(error)"])
            }
        }
    }
}
