import AppServiceScheduler
import Hummingbird

/// `/metrics` (Prometheus text) and `/healthz`.
struct OperationsController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let metrics: SchedulerMetrics
    let logDirectory: String

    /// `/metrics` goes on `authenticated` (behind the ingest token), `/healthz` on `open`, so a
    /// load balancer or orchestrator can probe it without a secret.
    func addRoutes(authenticated: RouterGroup<Context>, open: RouterGroup<Context>) {
        authenticated.get("metrics", use: exposition)
        open.get("healthz", use: health)
    }

    @Sendable func exposition(_ request: Request, context: Context) async throws -> Response {
        let text = await metrics.exposition(of: scheduler, logDirectory: logDirectory)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// 200 while the scheduler takes work; 503 once its log has failed.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        if let failure = await scheduler.failureDescription {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE", failure)
        }
        return try RequestJSON.response(["status": "ok"])
    }
}
