import AppServiceScheduler
import Foundation
import Hummingbird
import SegmentLog

/// `/metrics` (Prometheus text) and `/healthz`.
struct OperationsController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let metrics: SchedulerMetrics
    let logDirectory: String
    /// Whether the database answers and this instance holds its lease (nothing to ask of the embedded log).
    let store: StoreWatch
    /// Whether the records are on this machine's disk, whose free space is then a reason too.
    let checksDisk: Bool
    /// `max_log_size`: at it the daemon refuses new items, so a probe reports it unhealthy.
    let logBytesMax: Int?
    /// `min_free_space`: under it the daemon refuses new items too.
    let availableBytesMin: Int

    /// The operations routes of `configuration`'s daemon; `store` watches its database (by
    /// default none: the embedded log).
    init(scheduler: AppServiceScheduler, metrics: SchedulerMetrics, configuration: DaemonConfiguration, store: StoreWatch? = nil) {
        self.scheduler = scheduler
        self.metrics = metrics
        logDirectory = configuration.dataDirectory
        self.store = store ?? StoreWatch(instanceName: configuration.instanceName, database: nil)
        checksDisk = configuration.databaseURL == nil
        logBytesMax = configuration.logBytesMax
        availableBytesMin = configuration.availableBytesMin
    }

    /// `/metrics` goes on `authenticated` (behind the ingest token), `/healthz` on `open`, so a
    /// load balancer or orchestrator can probe it without a secret.
    func addRoutes(authenticated: RouterGroup<Context>, open: RouterGroup<Context>) {
        authenticated.get("metrics", use: exposition)
        open.get("healthz", use: health)
    }

    /// `/metrics` alone, without a token: the `metrics_listen` server's one route.
    func addMetricsRoute(to router: Router<Context>) {
        router.get("metrics", use: exposition)
    }

    @Sendable func exposition(_ request: Request, context: Context) async throws -> Response {
        let text = await metrics.exposition(of: scheduler, logDirectory: logDirectory)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// `200 {"status": "ok"}` while the daemon takes new items; else `503 {"status": "unhealthy",
    /// "reasons": [...]}`, one line per cause: the log failed, the log reached `max_log_size`,
    /// its device has less than `min_free_space` free, the database does not answer, or another
    /// instance took its writer lease.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        let reasons = await unhealthyReasons()
        guard !reasons.isEmpty else { return try RequestJSON.response(["status": "ok"]) }
        let body = try JSONSerialization.data(withJSONObject: ["status": "unhealthy", "reasons": reasons],
                                              options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Why new items would be refused now; empty when they would not.
    func unhealthyReasons() async -> [String] {
        var reasons: [String] = []
        if let reason = await store.unhealthyReason() { reasons.append(reason) }
        if let failure = await scheduler.failureDescription {
            reasons.append("log failed: \(failure)")
        }
        let logBytes = await scheduler.logStatistics.logBytes
        if let logBytesMax, logBytes >= logBytesMax {
            reasons.append("log size budget reached: the log holds \(logBytes) bytes, max_log_size is \(logBytesMax)")
        }
        // A device that cannot say (statvfs failed) is not reported: the writer reports real trouble.
        if checksDisk, let available = try? PosixFileSystem().availableBytes(at: logDirectory), available < availableBytesMin {
            reasons.append("disk nearly full: \(available) bytes free in \(logDirectory), under min_free_space (\(availableBytesMin))")
        }
        return reasons
    }
}
