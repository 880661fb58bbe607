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

    /// An error with `status`, `errcode` and `message`.
    init(_ status: HTTPResponse.Status, _ errcode: String, _ message: String) {
        self.status = status
        self.errcode = errcode
        self.message = message
    }

    var description: String { "\(status.code) \(errcode): \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["errcode": errcode, "error": message], options: [.sortedKeys])
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func missingToken() -> HTTPAPIError {
        HTTPAPIError(.unauthorized, "M_MISSING_TOKEN", "send Authorization: Bearer <ingest_token>")
    }

    static func unknownToken() -> HTTPAPIError {
        HTTPAPIError(.unauthorized, "M_UNKNOWN_TOKEN", "the bearer token is not the ingest_token")
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
