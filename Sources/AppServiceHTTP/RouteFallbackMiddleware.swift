import Hummingbird

/// Answers every request no route takes, in the Matrix style and before any token is looked
/// at: 405 `M_UNRECOGNIZED` (with `Allow`) when a route takes the path with other methods,
/// else 404 `M_UNRECOGNIZED`. A relay path naming an unknown service is 404 whatever the method.
///
/// Added to the router after every route, it wraps only Hummingbird's not-found responder (a
/// router's middleware applies to the routes added after it, and always to that responder), so
/// it never calls `next`, whose answer is an empty 404.
struct RouteFallbackMiddleware<Context: RequestContext>: RouterMiddleware {
    /// One GET route per path of the real router, throwing ``PathTaken`` with that path's
    /// methods: Hummingbird's own trie decides whether a path is taken, exactly as it routed.
    private let shapes: RouterResponder<Context>
    private let relayServices: Registrations

    private struct PathTaken: Error {
        let methods: [HTTPRequest.Method]
    }

    /// A fallback for a router with `routes`, whose relay routes serve the registrations in
    /// force in `relayServices`.
    init(routes: [Router<Context>.RouteDescription], relayServices: Registrations) {
        var methodsByPath: [String: (path: RouterPath, methods: [HTTPRequest.Method])] = [:]
        for route in routes {
            methodsByPath[route.path.description, default: (route.path, [])].methods.append(route.method)
        }
        let router = Router(context: Context.self)
        for (path, methods) in methodsByPath.values {
            router.get(path) { _, _ -> Response in throw PathTaken(methods: methods) }
        }
        shapes = router.buildResponder()
        self.relayServices = relayServices
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let service = Self.relayService(in: path), relayServices[service] == nil {
            throw HTTPAPIError.unrecognized(request.method, path)
        }
        let probe = Request(head: HTTPRequest(method: .get, scheme: nil, authority: nil, path: request.head.path),
                            body: RequestBody(buffer: ByteBuffer()))
        do {
            _ = try await shapes.respond(to: probe, context: context)
        } catch let taken as PathTaken {
            throw HTTPAPIError.methodNotAllowed(request.method, path, allowed: taken.methods)
        }
        throw HTTPAPIError.unrecognized(request.method, path)
    }

    /// The service id of a relay path (`/_asched/v1/relay/{id}/...`), percent-decoded; nil for
    /// any other path.
    static func relayService(in path: String) -> String? {
        guard path.hasPrefix(RelayAuthentication.pathPrefix) else { return nil }
        let rawID = path.dropFirst(RelayAuthentication.pathPrefix.count).prefix { $0 != "/" }
        return String(rawID).removingPercentEncoding ?? String(rawID)
    }
}
