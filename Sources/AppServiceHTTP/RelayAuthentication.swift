import Foundation
import Hummingbird

/// Who may use a relay route (`/_asched/v1/relay/{id}/...`): the homeserver, presenting the
/// `hs_token` of registration `{id}`, as it would to the service itself. The ingest token plays
/// no part here. Tokens are compared in constant time and never logged or echoed.
///
/// ```swift
/// @Sendable func ping(_ request: Request, context: Context) async throws -> Response {
///     let registration = try RelayAuthentication.registration(for: request, context: context, in: registrations)
///     …
/// }
/// ```
enum RelayAuthentication {
    /// Where every relay path starts; `{id}` follows.
    static let pathPrefix = "/_asched/v1/relay/"
    /// The legacy query parameter a homeserver may carry the token in (Synapse's
    /// `use_appservice_legacy_authorization`).
    static let queryParameter = "access_token"

    /// The registration named by the route parameter `id`, once the request proved it holds that
    /// registration's hs_token. Throws 404 `M_UNRECOGNIZED` for an id not in force (unknown, or
    /// removed by a reload) first (routing comes before auth), then 401 `M_UNAUTHORIZED` without
    /// a token and 403 `M_FORBIDDEN` with a wrong one.
    static func registration(for request: Request, context: some RequestContext,
                             in registrations: Registrations) throws(HTTPAPIError) -> Registration {
        let rawID = context.parameters.get("id") ?? ""
        guard let registration = registrations[decoded(rawID)] else {
            throw .unrecognized(request.method, request.uri.path)
        }
        try check(request, against: registration)
        return registration
    }

    /// Throws 401 `M_UNAUTHORIZED` unless the request carries a token (`Authorization: Bearer`,
    /// or else `?access_token=`), and 403 `M_FORBIDDEN` unless it is `registration`'s hs_token.
    static func check(_ request: Request, against registration: Registration) throws(HTTPAPIError) {
        guard let presented = token(of: request) else { throw .relayMissingToken() }
        guard BearerToken.constantTimeEqual(Array(presented.utf8), Array(registration.hsToken.utf8)) else {
            throw .relayForbidden()
        }
    }

    /// The token a request presents: the header's when it has one (what the spec asks of a
    /// homeserver), else the legacy query parameter's, percent-decoded; an empty one is none.
    static func token(of request: Request) -> String? {
        if let header = BearerToken.presented(in: request.headers), !header.isEmpty { return String(header) }
        for field in (request.uri.query ?? "").split(separator: "&") {
            let (name, value) = split(field)
            if name == queryParameter, let value, !value.isEmpty {
                return String(value).removingPercentEncoding ?? String(value)
            }
        }
        return nil
    }

    /// A path segment percent-decoded, as it was before the homeserver escaped it. Foundation's
    /// decoding runs only for a segment that has an escape: the relay decodes two per
    /// transaction, and most have none.
    static func decoded(_ segment: String) -> String {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return segment }
        return segment.removingPercentEncoding ?? segment
    }

    /// `query` without its `access_token` fields, the others kept byte for byte and in order;
    /// nil when nothing is left.
    static func queryWithoutToken(_ query: String?) -> String? {
        guard let query else { return nil }
        let kept = query.split(separator: "&", omittingEmptySubsequences: false)
            .filter { split($0).name != queryParameter }.joined(separator: "&")
        return kept.isEmpty ? nil : kept
    }

    private static func split(_ field: Substring) -> (name: Substring, value: Substring?) {
        guard let equals = field.firstIndex(of: "=") else { return (field, nil) }
        return (field[..<equals], field[field.index(after: equals)...])
    }
}
