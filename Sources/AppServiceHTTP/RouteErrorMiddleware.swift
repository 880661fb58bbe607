import Hummingbird

/// Makes every error answer Matrix JSON (`{"errcode": ..., "error": ...}`): the API's own
/// ``HTTPAPIError``s pass through; Hummingbird's `HTTPError`s (a missing route parameter, a
/// body over a limit) keep their status with an errcode for it; anything else is a 500
/// `M_UNKNOWN` whose details go to the log, not to the client. Added to the router first, so it
/// wraps every route and the fallback.
struct RouteErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPAPIError {
            throw error
        } catch let error as HTTPError {
            throw HTTPAPIError(error.status, Self.errcode(for: error.status), error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw HTTPAPIError(error.status, Self.errcode(for: error.status), error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)",
                                                              "error": "\(error)"])
            throw HTTPAPIError(.internalServerError, "M_UNKNOWN", "internal error; the daemon's log has the details")
        }
    }

    /// The Matrix errcode closest to a bare status.
    static func errcode(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "M_UNAUTHORIZED"
        case 403: "M_FORBIDDEN"
        case 404: "M_NOT_FOUND"
        case 405: "M_UNRECOGNIZED"
        case 413: "M_TOO_LARGE"
        case 429: "M_LIMIT_EXCEEDED"
        default: "M_UNKNOWN"
        }
    }
}
