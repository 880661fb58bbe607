import Hummingbird

/// Requires `Authorization: Bearer <ingest_token>` on the routes of the group it is added to,
/// compared in constant time so the token cannot be guessed byte by byte from response times.
/// It sits on the ingest and admin groups, not on the router: routing answers an unknown route
/// or a wrong method before any token is looked at.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = bearerToken(in: request.headers) else { throw HTTPAPIError.missingToken() }
        guard constantTimeEqual(Array(presented.utf8), token) else { throw HTTPAPIError.unknownToken() }
        return try await next(request, context)
    }
}

/// The token of an `Authorization: Bearer <token>` header, or nil when there is none. The scheme
/// name is case-insensitive (RFC 9110); the token is not.
func bearerToken(in headers: HTTPFields) -> Substring? {
    let scheme = "bearer "
    guard let header = headers[.authorization], header.prefix(scheme.count).lowercased() == scheme else { return nil }
    return header.dropFirst(scheme.count)
}

/// Compares every byte whatever the first difference, so timing tells nothing but length.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    for index in 0..<max(lhs.count, rhs.count) {
        difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
}
