import Hummingbird

/// Requires `Authorization: Bearer <ingest_token>` on every request, compared in constant time
/// so the token cannot be guessed byte by byte from response times.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The scheme name is case-insensitive (RFC 9110); the token is not.
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw HTTPAPIError.missingToken()
        }
        guard Self.constantTimeEqual(Array(header.utf8.dropFirst("bearer ".utf8.count)), token) else {
            throw HTTPAPIError.unknownToken()
        }
        return try await next(request, context)
    }

    /// Compares every byte whatever the first difference, so timing tells nothing but length.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
        }
        return difference == 0
    }
}
