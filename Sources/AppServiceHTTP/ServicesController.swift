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
    /// In a deployment that spreads the services over instances: the listing takes the others'
    /// entries from the instances delivering them.
    let spread: ServiceSpread?

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
        let local = try encoder.encode(["services": statuses])
        guard let spread, !spread.elsewhere.isEmpty, !OwnerForwarder.isForwarded(request) else {
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: local)))
        }
        var entries = Self.entries(local)
        entries += await Self.entries(of: spread.elsewhere, from: spread, headers: request.headers)
        return try RequestJSON.response(["services": entries.sorted { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }])
    }

    /// The `services` entries of a listing's JSON.
    private static func entries(_ listing: some Sequence<UInt8>) -> [[String: Any]] {
        ((try? JSONSerialization.jsonObject(with: Data(listing)) as? [String: Any])?["services"] as? [[String: Any]]) ?? []
    }

    /// Each of `services`' entry in the listing of the instance delivering it; a service no
    /// instance delivers now, or whose instance does not answer, is listed with its owner (if
    /// known) and `"state": "unknown"`.
    static func entries(of services: [String], from spread: ServiceSpread, headers: HTTPFields) async -> [[String: Any]] {
        var byOwner: [String: (name: String, services: Set<String>)] = [:]
        var unowned: [[String: Any]] = []
        for service in services {
            if let owner = await spread.owners.owner(of: service) {
                byOwner[owner.address, default: (owner.name, [])].services.insert(service)
            } else {
                unowned.append(["id": service, "state": "unknown", "owner": NSNull()])
            }
        }
        var found: [[String: Any]] = []
        for (address, owner) in byOwner {
            let answer = try? await spread.forwarder.send(.get, "/_asched/v1/services", headers: headers, body: nil, to: address,
                                                          owner: owner.name)
            let listed = answer.map { entries($0.body.readableBytesView) }?.filter { owner.services.contains($0["id"] as? String ?? "") } ?? []
            let missing = owner.services.subtracting(listed.compactMap { $0["id"] as? String })
            found += listed + missing.map { ["id": $0, "state": "unknown", "owner": owner.name] }
        }
        return found + unowned
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
