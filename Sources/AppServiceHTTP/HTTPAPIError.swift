import Foundation
import HTTPTypes
import Hummingbird

/// An error answer of the HTTP API: a status and `{"errcode": "...", "error": "..."}`, in the
/// Matrix style. Bad input is answered this way before anything reaches the log.
struct HTTPAPIError: HTTPResponseError, Equatable, CustomStringConvertible {
    let status: HTTPResponse.Status
    /// The machine-readable code, e.g. `M_BAD_JSON`.
    let errcode: String
    /// What was wrong, for people.
    let message: String
    /// Headers the answer carries besides its content type, e.g. `Allow` on a 405.
    let headers: HTTPFields

    /// An error with `status`, `errcode` and `message`.
    init(_ status: HTTPResponse.Status, _ errcode: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.errcode = errcode
        self.message = message
        self.headers = headers
    }

    var description: String { "\(status.code) \(errcode): \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["errcode": errcode, "error": message], options: [.sortedKeys])
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// No route takes the path (a relay path naming an unknown service included), as the Matrix
    /// APIs answer an unknown endpoint.
    static func unrecognized(_ method: HTTPRequest.Method, _ path: String) -> HTTPAPIError {
        HTTPAPIError(.notFound, "M_UNRECOGNIZED", "unrecognized request: \(method) \(path)")
    }

    /// A route takes the path, but not with this method; `allowed` goes into the `Allow` header.
    static func methodNotAllowed(_ method: HTTPRequest.Method, _ path: String, allowed: [HTTPRequest.Method]) -> HTTPAPIError {
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        return HTTPAPIError(.methodNotAllowed, "M_UNRECOGNIZED", "\(method) is not allowed on \(path) (allowed: \(names))",
                            headers: [.allow: names])
    }

    static func missingToken() -> HTTPAPIError {
        HTTPAPIError(.unauthorized, "M_MISSING_TOKEN", "send Authorization: Bearer <ingest_token>")
    }

    static func unknownToken() -> HTTPAPIError {
        HTTPAPIError(.unauthorized, "M_UNKNOWN_TOKEN", "the bearer token is not the ingest_token")
    }

    /// A relay request without the service's hs_token (the application service API's answer).
    static func relayMissingToken() -> HTTPAPIError {
        HTTPAPIError(.unauthorized, "M_UNAUTHORIZED", "send Authorization: Bearer <hs_token> of this registration")
    }

    /// A relay request with a token that is not the service's hs_token.
    static func relayForbidden() -> HTTPAPIError {
        HTTPAPIError(.forbidden, "M_FORBIDDEN", "the token is not this registration's hs_token")
    }

    static func badJSON(_ reason: String) -> HTTPAPIError {
        HTTPAPIError(.badRequest, "M_BAD_JSON", reason)
    }

    static func notJSON(_ reason: String) -> HTTPAPIError {
        HTTPAPIError(.badRequest, "M_NOT_JSON", reason)
    }

    static func unknownService(_ id: String) -> HTTPAPIError {
        HTTPAPIError(.notFound, "M_NOT_FOUND", "no application service with id \"\(id)\"")
    }

    static func tooLarge(limit: Int) -> HTTPAPIError {
        HTTPAPIError(.contentTooLarge, "M_TOO_LARGE", "the request body exceeds max_body_size (\(limit) bytes)")
    }
}
