import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOSSL

/// How a standby accepts requests: it sends each on to the active instance (the writer lease's
/// holder, at the address that instance advertised) and answers with the active instance's
/// answer, so a client or homeserver that reaches any instance is served, and acknowledged only
/// once the active instance committed. Relay dedupe and ordering stay the active instance's.
///
/// A request goes on once: one that another instance already forwarded (``forwardedByHeader``)
/// is refused, so two instances that each believe the other active never pass a request back
/// and forth. A failure to reach the active instance (it died, the lease is moving) is a
/// retryable 503, never an acknowledgement.
final class ActiveInstanceForwarder: Sendable {
    /// The header a forwarded request carries: the forwarding instance's name.
    static let forwardedByHeader = "X-Asched-Forwarded-By"
    /// The largest answer passed back (a service listing, a relayed transaction's answer).
    static let responseBytesMax = 16 << 20
    /// Hop-by-hop headers (RFC 9110, 7.6.1) and those the client sets itself.
    private static let unforwardedHeaders: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    ]

    private let client: HTTPClient
    /// This instance's name, sent in ``forwardedByHeader``.
    let instanceName: String
    /// The largest request body forwarded: the larger of `max_body_size` and `max_relay_body_size`,
    /// so the active instance, which applies its own limits, decides.
    let bodyBytesMax: Int
    let timeouts: ForwardTimeouts

    /// `trustRoots` are trusted besides the system's authorities, for an active instance serving
    /// HTTPS with this deployment's own certificate.
    init(instanceName: String, bodyBytesMax: Int, timeouts: ForwardTimeouts, trustRoots: [NIOSSLCertificate] = []) {
        // An active instance that died refuses connections: the client gets its 503 at once
        // and tries again (another instance, or this one once it took over).
        client = .failingFast(connectTimeout: timeouts.connect, trustRoots: trustRoots)
        self.instanceName = instanceName
        self.bodyBytesMax = bodyBytesMax
        self.timeouts = timeouts
    }

    /// `request` sent to `base` (the active instance's advertised URL), its path and query
    /// unchanged, with its headers but the hop-by-hop ones; the answer's status, headers and body.
    func forward(_ request: Request, to base: String, active: String) async throws -> Response {
        if let by = request.headers[HTTPField.Name(Self.forwardedByHeader)!] {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "instance \(by) forwarded this request to this instance (\(instanceName)), which is a standby: "
                                   + "the writer lease is moving; retry", headers: [.retryAfter: "1"])
        }
        var outgoing = HTTPClientRequest(url: base + request.uri.string)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !Self.unforwardedHeaders.contains(field.name.canonicalName) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.headers.add(name: Self.forwardedByHeader, value: instanceName)
        if request.method != .get && request.method != .head {
            do {
                outgoing.body = .bytes(try await request.body.collect(upTo: bodyBytesMax))
            } catch is NIOTooManyBytesError {
                throw HTTPAPIError.tooLarge(limit: bodyBytesMax)
            }
        }
        do {
            let response = try await client.execute(outgoing, deadline: .now() + timeouts.total.timeAmount)
            let body = try await response.body.collect(upTo: Self.responseBytesMax)
            var headers = HTTPFields()
            for (name, value) in response.headers where !Self.unforwardedHeaders.contains(name.lowercased()) {
                if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
            }
            return Response(status: HTTPResponse.Status(code: Int(response.status.code)), headers: headers,
                            body: ResponseBody(byteBuffer: body))
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError(.badGateway, "M_UNKNOWN",
                               "the active instance \(active) answered this standby (\(instanceName)) with more than "
                                   + "\(Self.responseBytesMax) bytes; the request reached it and may have been committed")
        } catch let error where ForwardClient.isTimeout(error) {
            throw HTTPAPIError(.gatewayTimeout, "M_CONNECTION_TIMEOUT",
                               "the active instance \(active) at \(base) did not answer this standby (\(instanceName)) within "
                                   + "\(timeouts.total); the request may have been committed; retry")
        } catch {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "this instance (\(instanceName)) is a standby and cannot reach the active instance \(active) at \(base): "
                                   + "\(error); retry", headers: [.retryAfter: "1"])
        }
    }

    /// Closes the connections to the active instance.
    func shutdown() async throws {
        try await client.shutdown()
    }
}
