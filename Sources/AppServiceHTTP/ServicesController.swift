import AppServiceScheduler
import Foundation
import Hummingbird

/// `/_asched/v1/services`: per-service enqueue, status and forced retry.
struct ServicesController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let metrics: SchedulerMetrics
    let bodyBytesMax: Int
    /// Names each service's `owner`.
    let store: StoreWatch

    func addRoutes(to group: RouterGroup<Context>) {
        group.get(use: list)
        group.post(":id/enqueue", use: enqueue)
        group.post(":id/retry", use: retry)
    }

    /// `POST /services/{id}/enqueue` `{"events": [...], "ephemeral": [...], "to_device": [...]}`
    /// → `{"position": N}` once durable.
    @Sendable func enqueue(_ request: Request, context: Context) async throws -> Response {
        let service = try context.parameters.require("id")
        guard await scheduler.descriptors[service] != nil else { throw HTTPAPIError.unknownService(service) }
        let document = try await RequestJSON.document(of: request, limit: bodyBytesMax)
        let batch = EventBatch(events: try RequestJSON.items("events", in: document),
                               ephemeral: try RequestJSON.items("ephemeral", in: document),
                               toDevice: try RequestJSON.items("to_device", in: document))
        do {
            let position = try await scheduler.enqueue([service: batch], itemsAreJSONObjects: true)
            metrics.enqueued(batch.count, for: service)
            return try RequestJSON.response(["position": position.rawValue])
        } catch let error as SchedulerError {
            metrics.refused(error)
            throw error.httpError
        }
    }

    /// `GET /services` → `{"services": [{"id", "state", "pending_txns", ...}]}` (``ServiceStatus``),
    /// every configured service included, sorted by id, with its backlog's age now, its relay
    /// counts and its owner.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let statuses = ServiceStatus.all(in: await scheduler.snapshot, configured: Array(await scheduler.descriptors.keys),
                                         now: metrics.clock.now, relayCounts: metrics.relayCounts, owner: await store.owner())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(["services": statuses]))))
    }

    /// `POST /services/{id}/retry` → `{}`: a DOWN service retries now.
    @Sendable func retry(_ request: Request, context: Context) async throws -> Response {
        let service = try context.parameters.require("id")
        do {
            try await scheduler.forceRetry(service)
        } catch let error as SchedulerError {
            throw error.httpError
        }
        return try RequestJSON.response([String: Any]())
    }
}
