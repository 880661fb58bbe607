import Foundation
import Hummingbird

/// A request for a service this instance does not deliver (`/_asched/v1/services/{id}/…`,
/// `/_asched/v1/relay/{id}/…`), in a deployment that spreads the services over its instances:
/// sent on to the instance holding the service's lease, whose answer it returns. A service that
/// no instance holds now (its lease is moving) is a retryable 503; an unknown one goes on to the
/// routes, which answer 404.
struct OwnerRouting<Context: RequestContext>: RouterMiddleware {
    let spread: ServiceSpread

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let service = Self.service(in: request.uri.path), spread.isElsewhere(service) else {
            return try await next(request, context)
        }
        guard let owner = await spread.owners.owner(of: service) else {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "no instance delivers \(service) now (its lease is moving between instances); retry",
                               headers: [.retryAfter: "1"])
        }
        return try await spread.forward(request, about: service, to: owner)
    }

    /// The service a per-service path names, percent-decoded.
    static func service(in path: String) -> String? {
        for prefix in ["/_asched/v1/services/", "/_asched/v1/relay/"] where path.hasPrefix(prefix) {
            let segment = path.dropFirst(prefix.count).prefix { $0 != "/" }
            guard !segment.isEmpty else { return nil }
            return segment.contains("%") ? segment.removingPercentEncoding : String(segment)
        }
        return nil
    }
}
