import Hummingbird

/// Requires `Authorization: Bearer <ingest_token>` on the routes of the group it is added to,
/// compared in constant time so the token cannot be guessed byte by byte from response times.
/// It sits on the ingest and admin groups, not on the router: routing answers an unknown route
/// or a wrong method before any token is looked at.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = BearerToken.presented(in: request.headers) else { throw HTTPAPIError.missingToken() }
        guard BearerToken.constantTimeEqual(Array(presented.utf8), token) else { throw HTTPAPIError.unknownToken() }
        return try await next(request, context)
    }
}
