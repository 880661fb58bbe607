import AppServiceScheduler
import Foundation
import Hummingbird
import NIOCore

/// The relay's synchronous requests: everything under `/_asched/v1/relay/{id}/_matrix/app/`
/// that is not a pushed transaction (user and alias queries, third-party lookups, pings, the
/// MSC3983/MSC3984 key endpoints, and whatever else the service may know) goes on to the
/// service's real `url`, and its status, content type and body come back unchanged.
///
/// The path is forwarded as it arrived, percent-encoding included (Synapse sends aliases as
/// `%23bridge_x%3Alocalhost`; a decoded `#` would cut the path), and so is the query, less the
/// legacy `access_token`: the service gets its hs_token as `Authorization: Bearer`. A ping the
/// service answers with a 2xx also retries the service now, as Synapse ≥ 1.132 does, so a
/// DOWN service that a bridge reports healthy is not left waiting out its backoff.
struct ForwardController<Context: RequestContext> {
    /// Read at each request: a reload's `url` and `hs_token` apply to the next one.
    let registrations: Registrations
    let scheduler: AppServiceScheduler
    let client: ForwardClient
    /// The largest request body forwarded (`max_body_size`).
    let bodyBytesMax: Int

    /// The methods forwarded; any other on these paths is a 405.
    static var methods: [HTTPRequest.Method] { [.get, .head, .post, .put, .delete, .patch, .options] }
    /// Where a ping lands, after the relay base.
    static var pingPath: String { "/_matrix/app/v1/ping" }

    /// Adds the forwarding routes to `relay`, the group at `_asched/v1/relay/:id`. The relay's
    /// transaction routes, being constant paths, take precedence over this wildcard.
    func addRoutes(to relay: RouterGroup<Context>) {
        for method in Self.methods {
            relay.on("_matrix/app/**", method: method, use: forward)
        }
    }

    @Sendable func forward(_ request: Request, context: Context) async throws -> Response {
        let registration = try RelayAuthentication.registration(for: request, context: context, in: registrations)
        let suffix = ForwardClient.pathAfterBase(request.uri.path)
        // `..` would climb out of `_matrix/app/` on the service, which gets the hs_token with it.
        // Decoded first: an escaped `/` (`%2F..%2F`) is a separator to a service that decodes it.
        let segments = (suffix.removingPercentEncoding ?? suffix).split(separator: "/")
        if segments.contains(where: { $0 == "." || $0 == ".." }) {
            throw HTTPAPIError(.notFound, "M_UNRECOGNIZED", "no route for a path with \".\" or \"..\" segments")
        }
        let body = try await request.passedOnBody(limit: bodyBytesMax)
        let url = ForwardClient.targetURL(base: registration.url, pathAfterBase: suffix, query: request.uri.query)
        let answer: ForwardClient.Answer
        do {
            answer = try await client.send(request.method, to: url, hsToken: registration.hsToken,
                                           contentType: request.headers[.contentType], body: body)
        } catch {
            context.logger.warning("relay: forwarding failed", metadata: [
                "service": "\(registration.id)", "method": "\(request.method)", "path": "\(suffix)", "error": "\(error)",
            ])
            throw error
        }
        if request.method == .post, suffix == Self.pingPath, (200..<300).contains(answer.status.code) {
            // The service is reachable: retry its pending transactions now instead of at the
            // end of its backoff. A service that is UP is left alone by forceRetry.
            try? await scheduler.forceRetry(registration.id)
        }
        var headers = HTTPFields()
        if let contentType = answer.contentType { headers[.contentType] = contentType }
        return Response(status: answer.status, headers: headers, body: ResponseBody(byteBuffer: answer.body))
    }
}
