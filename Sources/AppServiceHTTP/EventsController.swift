import AppServiceScheduler
import Foundation
import Hummingbird

/// `POST /_asched/v1/events`: events routed to every service whose namespaces match them.
struct EventsController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let router: NamespaceRouter
    let metrics: SchedulerMetrics
    let bodyBytesMax: Int

    func addRoutes(to group: RouterGroup<Context>) {
        group.post(use: route)
    }

    /// `{"events": [...]}` → `{"routed": {"<service>": count}}`, after every service's events are
    /// durable. The whole body is checked before anything is enqueued.
    @Sendable func route(_ request: Request, context: Context) async throws -> Response {
        let object = try await RequestJSON.object(of: request, limit: bodyBytesMax)
        guard object["events"] != nil else { throw HTTPAPIError.badJSON("missing \"events\"") }
        var perService: [String: [[UInt8]]] = [:]
        for (event, bytes) in try RequestJSON.objects("events", in: object) {
            for service in router.serviceIDs(for: event) {
                perService[service, default: []].append(bytes)
            }
        }
        var routed: [String: Int] = [:]
        for (service, serviceEvents) in perService.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try await scheduler.enqueue(EventBatch(events: serviceEvents), for: service)
            } catch let error as SchedulerError {
                throw error.httpError
            }
            metrics.enqueued(serviceEvents.count, for: service)
            routed[service] = serviceEvents.count
        }
        return try RequestJSON.response(["routed": routed])
    }
}
