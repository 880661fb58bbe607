import AppServiceScheduler
import Foundation
import Logging
import Metrics
import Prometheus
import Synchronization

/// The daemon's metrics, through swift-metrics with a Prometheus registry of its own (no
/// process-wide bootstrap, so several daemons can run in one test process).
final class SchedulerMetrics: Sendable {
    /// The counters created for every configured service at each scrape, so a service that has
    /// sent or relayed nothing yet has series at 0 (a dashboard's `rate()` needs a first sample).
    private static let perServiceCounters = [
        "asched_events_enqueued_total", "asched_transactions_sent_total", "asched_transactions_completed_total",
        "asched_transactions_failed_total", "asched_relay_transactions_total", "asched_relay_duplicates_total",
    ]

    /// The scheduler's clock: the age of an undelivered item is measured on the clock that
    /// stamped its enqueue time.
    let clock: any SchedulerClock
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let fsyncSeconds: Metrics.Timer
    /// Relayed transactions per service since the daemon started, for `GET /_asched/v1/services`
    /// (the Prometheus counters cannot be read back).
    private let relayCountsByService = Mutex<[String: RelayCounts]>([:])

    /// Fresh metrics with nothing counted, measuring ages on `clock`.
    init(clock: any SchedulerClock) {
        self.clock = clock
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                                   .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]
        self.factory = factory
        fsyncSeconds = Metrics.Timer(label: "asched_fsync_seconds", factory: factory)
        // Series that exist from the start, at 0, so a dashboard shows them before the first event.
        for label in ["asched_compactions_total", "asched_compaction_failures_total"] {
            _ = Counter(label: label, factory: factory)
        }
        for reason in ["log_budget", "disk_space", "relay_bytes_in_flight"] {
            _ = Counter(label: "asched_enqueue_refused_total", dimensions: [("reason", reason)], factory: factory)
        }
        Gauge(label: "asched_compaction_reclaimed_bytes", factory: factory).record(0)
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

    /// Counts a relay request refused because the relay bodies being read at once were at their cap.
    func refusedRelayBody() {
        Counter(label: "asched_enqueue_refused_total", dimensions: [("reason", "relay_bytes_in_flight")], factory: factory).increment()
    }

    /// Counts a relayed transaction answered `200 {}`, its `itemCount` items as enqueued unless it
    /// was a duplicate.
    func relayed(_ outcome: RelayOutcome, itemCount: Int, for service: String) {
        let dimensions = [("service", service)]
        Counter(label: "asched_relay_transactions_total", dimensions: dimensions, factory: factory).increment()
        let duplicate = outcome == .duplicate
        if duplicate {
            Counter(label: "asched_relay_duplicates_total", dimensions: dimensions, factory: factory).increment()
        } else {
            enqueued(itemCount, for: service)
        }
        relayCountsByService.withLock { counts in
            counts[service, default: RelayCounts()].received += 1
            if duplicate { counts[service, default: RelayCounts()].deduplicated += 1 }
        }
    }

    /// Relayed transactions per service since the daemon started; a service with none is absent.
    var relayCounts: [String: RelayCounts] { relayCountsByService.withLock { $0 } }

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
        let statuses = ServiceStatus.all(in: await scheduler.snapshot, configured: Array(await scheduler.descriptors.keys),
                                         now: clock.now)
        for status in statuses {
            let dimensions = [("service", status.id)]
            for label in Self.perServiceCounters {
                _ = Counter(label: label, dimensions: dimensions, factory: factory)
            }
            Gauge(label: "asched_backlog_age_seconds", dimensions: dimensions, factory: factory)
                .record(Double(status.oldestQueuedAgeMs ?? 0) / 1000)
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
