import AppServiceScheduler
import Foundation
import Logging
import Metrics
import Prometheus

/// The daemon's metrics, through swift-metrics with a Prometheus registry of its own (no
/// process-wide bootstrap, so several daemons can run in one test process).
final class SchedulerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let fsyncSeconds: Metrics.Timer

    /// Fresh metrics with nothing counted.
    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                                   .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]
        self.factory = factory
        fsyncSeconds = Metrics.Timer(label: "asched_fsync_seconds", factory: factory)
    }

    func enqueued(_ count: Int, for service: String) {
        Counter(label: "asched_events_enqueued_total", dimensions: [("service", service)], factory: factory).increment(by: count)
    }

    /// Counts a refused request whose items would go over the log's budget or the disk's floor.
    func refused(_ error: SchedulerError) {
        let reason: String
        switch error {
        case .logBudgetExceeded: reason = "log_budget"
        case .diskSpaceLow: reason = "disk_space"
        default: return
        }
        Counter(label: "asched_enqueue_refused_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Records one `fdatasync`'s duration (the log's `onSync` hook).
    func synced(in duration: Duration) {
        fsyncSeconds.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Counts what the scheduler reports, and logs what an operator wants to see, until its
    /// event stream ends.
    func observe(_ events: AsyncStream<SchedulerEvent>, logger: Logger) async {
        for await event in events {
            SchedulerMetrics.log(event, to: logger)
            switch event {
            case .sending(let service, _, _):
                Counter(label: "asched_transactions_sent_total", dimensions: [("service", service)], factory: factory).increment()
            case .completed(let service, _):
                Counter(label: "asched_transactions_completed_total", dimensions: [("service", service)], factory: factory).increment()
            case .failed(let service, _, _):
                Counter(label: "asched_transactions_failed_total", dimensions: [("service", service)], factory: factory).increment()
            case .compacted(let report):
                Counter(label: "asched_compactions_total", factory: factory).increment()
                Gauge(label: "asched_compaction_reclaimed_bytes", factory: factory).record(report.bytesBefore - report.bytesAfter)
            case .compactionFailed:
                Counter(label: "asched_compaction_failures_total", factory: factory).increment()
            case .down, .up, .retryScheduled, .compactionStarted:
                break
            }
        }
    }

    private static func log(_ event: SchedulerEvent, to logger: Logger) {
        switch event {
        case .sending(let service, let id, let attempt):
            logger.debug("sending", metadata: ["service": "\(service)", "txn": "\(id)", "attempt": "\(attempt)"])
        case .completed(let service, let id):
            logger.debug("completed", metadata: ["service": "\(service)", "txn": "\(id)"])
        case .failed(let service, let id, let reason):
            logger.warning("send failed", metadata: ["service": "\(service)", "txn": "\(id)", "reason": "\(reason)"])
        case .down(let service):
            logger.warning("service DOWN", metadata: ["service": "\(service)"])
        case .up(let service):
            logger.notice("service UP", metadata: ["service": "\(service)"])
        case .retryScheduled(let service, _, let delay):
            logger.info("retry scheduled", metadata: ["service": "\(service)", "delay": "\(delay)"])
        case .compactionStarted:
            logger.info("compaction started")
        case .compactionFailed(let reason):
            logger.error("compaction failed", metadata: ["reason": "\(reason)"])
        case .compacted(let report):
            logger.info("compacted", metadata: ["segments": "\(report.segmentsReplaced)", "bytes_before": "\(report.bytesBefore)",
                                                "bytes_after": "\(report.bytesAfter)", "duration": "\(report.duration)"])
        }
    }

    /// The Prometheus text exposition, with gauges read from the scheduler now.
    func exposition(of scheduler: AppServiceScheduler, logDirectory: String) async -> [UInt8] {
        for status in ServiceStatus.all(in: await scheduler.snapshot) {
            let dimensions = [("service", status.id)]
            Gauge(label: "asched_pending_transactions", dimensions: dimensions, factory: factory).record(status.pendingTxns)
            Gauge(label: "asched_in_flight_transactions", dimensions: dimensions, factory: factory).record(status.inFlightTxn == nil ? 0 : 1)
            Gauge(label: "asched_queued_events", dimensions: dimensions, factory: factory).record(status.queuedEvents)
            Gauge(label: "asched_service_up", dimensions: dimensions, factory: factory).record(status.state == "up" ? 1 : 0)
        }
        // The log's own count of its segments' bytes, kept by its writer: no directory listing.
        Gauge(label: "asched_log_bytes", factory: factory).record(await scheduler.logStatistics.logBytes)
        return registry.emitToBuffer()
    }
}
