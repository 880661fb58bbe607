import AppServiceScheduler
import Foundation
import Hummingbird

/// `POST /_asched/v1/events`: events routed to every service whose namespaces match them.
struct EventsController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let router: NamespaceRouter
    let metrics: SchedulerMetrics
    let bodyBytesMax: Int
    /// In a deployment that spreads the services over instances: who delivers the services this
    /// instance does not, and how to reach them.
    let spread: ServiceSpread?

    func addRoutes(to group: RouterGroup<Context>) {
        group.post(use: route)
    }

    /// `{"events": [...]}` → `{"routed": {"<service>": count}}`, after every service's events are
    /// durable. The whole body is checked before anything is enqueued, and all services' records
    /// go into the log in one write. Events for services other instances deliver are sent on to
    /// them (the whole body, which each routes again for its own services), and their counts
    /// merged in: the answer is a 200 only once every instance concerned committed.
    @Sendable func route(_ request: Request, context: Context) async throws -> Response {
        let document = try await RequestJSON.document(of: request, limit: bodyBytesMax)
        guard document.member("events", of: document.root) != nil else { throw HTTPAPIError.badJSON("missing \"events\"") }
        var perService: [String: [[UInt8]]] = [:]
        var elsewhere: Set<String> = []
        // While a reload is under way the routing table and the scheduler may differ for a
        // moment on a service being added or removed: it is routed to only once both have it.
        let delivered = Set(await scheduler.descriptors.keys)
        for event in try RequestJSON.objects("events", in: document) {
            let services = router.serviceIDs(forEvent: event, in: document)
            elsewhere.formUnion(services.filter { !delivered.contains($0) })
            let here = services.filter(delivered.contains)
            guard !here.isEmpty else { continue }
            let bytes = Array(document[event])
            for service in here {
                perService[service, default: []].append(bytes)
            }
        }
        if !perService.isEmpty {
            do {
                _ = try await scheduler.enqueue(perService.mapValues { EventBatch(events: $0) }, itemsAreJSONObjects: true)
            } catch let error as SchedulerError {
                metrics.refused(error)
                throw error.httpError
            }
        }
        for (service, serviceEvents) in perService { metrics.enqueued(serviceEvents.count, for: service) }
        var counts = perService.mapValues(\.count)
        if let spread, !elsewhere.isEmpty, !OwnerForwarder.isForwarded(request) {
            for (service, count) in try await spread.forwardEvents(document, headers: request.headers, for: elsewhere) {
                counts[service] = count
            }
        }
        return RequestJSON.response(counts: counts, under: "routed")
    }
}
