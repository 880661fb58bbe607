import AppServiceScheduler
import Logging
import ServiceLifecycle

/// Runs beside the HTTP server: feeds the metrics, and on graceful shutdown (after the
/// server stopped accepting) closes the scheduler, which syncs the log, then the transport.
struct SchedulerService: Service {
    let scheduler: AppServiceScheduler
    let matrix: MatrixTransport?
    let metrics: SchedulerMetrics
    let logger: Logger

    func run() async throws {
        let events = await scheduler.events()
        let observer = Task { await metrics.observe(events, logger: logger) }
        try? await gracefulShutdown()
        logger.info("shutting down: closing the scheduler and syncing the log")
        try await scheduler.close()
        await observer.value
        try await matrix?.shutdown()
    }
}
