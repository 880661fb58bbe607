import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// How an instance on a shared database serves a request for a service another instance
/// delivers (the holder of the service's lease, at the address it advertised): it sends the
/// request on and answers with that instance's answer, so a client or homeserver that reaches
/// any instance is served, and acknowledged only once the owner committed. Relay dedupe and
/// ordering stay the owner's.
///
/// A request goes on once: one that another instance already forwarded (``forwardedByHeader``)
/// is refused, so two instances that each believe the other the owner never pass a request back
/// and forth. A failure to reach the owner (it died, the lease is moving) is a retryable 503,
/// never an acknowledgement.
final class OwnerForwarder: Service {
    /// The header a forwarded request carries: the forwarding instance's name.
    static let forwardedByHeader = "X-Asched-Forwarded-By"
    /// The largest answer passed back (a service listing, a relayed transaction's answer).
    static let responseBytesMax = 16 << 20
    /// Hop-by-hop headers (RFC 9110, 7.6.1) and those the client sets itself.
    private static let unforwardedHeaders: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    ]

    /// Another instance's answer.
    struct Answer: Sendable {
        let status: HTTPResponse.Status
        /// Its headers but the hop-by-hop ones.
        let headers: HTTPFields
        let body: ByteBuffer

        /// The answer as this instance's own.
        var response: Response { Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body)) }
    }

    private let client: HTTPClient
    /// Set by ``stopForwarding()``.
    private let stopped = Mutex(false)
    /// This instance's name, sent in ``forwardedByHeader``.
    let instanceName: String
    /// The largest request body forwarded: the larger of `max_body_size` and `max_relay_body_size`,
    /// so the owner, which applies its own limits, decides.
    let bodyBytesMax: Int
    let timeouts: ForwardTimeouts

    /// `trustRoots` are trusted besides the system's authorities, for an owner serving HTTPS
    /// with this deployment's own certificate.
    init(instanceName: String, bodyBytesMax: Int, timeouts: ForwardTimeouts, trustRoots: [NIOSSLCertificate] = []) {
        // An owner that died refuses connections: the client gets its 503 at once and tries
        // again (another instance, or this one once it took over).
        client = .failingFast(connectTimeout: timeouts.connect, trustRoots: trustRoots)
        self.instanceName = instanceName
        self.bodyBytesMax = bodyBytesMax
        self.timeouts = timeouts
    }

    /// Whether another instance forwarded `request` here.
    static func isForwarded(_ request: Request) -> Bool {
        request.headers[HTTPField.Name(forwardedByHeader)!] != nil
    }

    /// `request` sent to `base` (the owner's advertised URL), its path and query unchanged, with
    /// its headers but the hop-by-hop ones; the answer's status, headers and body.
    func forward(_ request: Request, to base: String, owner: String) async throws -> Response {
        if let by = request.headers[HTTPField.Name(Self.forwardedByHeader)!] {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "instance \(by) forwarded this request to this instance (\(instanceName)), which does not deliver "
                                   + "the service either: its lease is moving; retry", headers: [.retryAfter: "1"])
        }
        let body = try await request.passedOnBody(limit: bodyBytesMax)
        return try await send(request.method, request.uri.string, headers: request.headers, body: body, to: base, owner: owner).response
    }

    /// `body` sent as `method` to `base` followed by `path`, with `headers` but the hop-by-hop
    /// ones, marked as forwarded by this instance; the answer's status, headers and body.
    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?, to base: String,
              owner: String) async throws -> Answer {
        var outgoing = HTTPClientRequest(url: base + path)
        outgoing.method = HTTPMethod(rawValue: method.rawValue)
        for field in headers where !Self.unforwardedHeaders.contains(field.name.canonicalName) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.headers.add(name: Self.forwardedByHeader, value: instanceName)
        if let body { outgoing.body = .bytes(body) }
        do {
            let response = try await client.execute(outgoing, deadline: .now() + timeouts.total.timeAmount)
            let answer = try await response.body.collect(upTo: Self.responseBytesMax)
            var fields = HTTPFields()
            for (name, value) in response.headers where !Self.unforwardedHeaders.contains(name.lowercased()) {
                if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
            return Answer(status: HTTPResponse.Status(code: Int(response.status.code)), headers: fields, body: answer)
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError(.badGateway, "M_UNKNOWN",
                               "instance \(owner) answered this instance (\(instanceName)) with more than "
                                   + "\(Self.responseBytesMax) bytes; the request reached it and may have been committed")
        } catch let error where ForwardClient.isTimeout(error) {
            throw HTTPAPIError(.gatewayTimeout, "M_CONNECTION_TIMEOUT",
                               "instance \(owner) at \(base) did not answer this instance (\(instanceName)) within "
                                   + "\(timeouts.total); the request may have been committed; retry")
        } catch where stopped.withLock({ $0 }) {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "this instance (\(instanceName)) is changing the services it delivers and stopped forwarding to "
                                   + "instance \(owner) at \(base) before it answered; the request may have been committed; retry",
                               headers: [.retryAfter: "1"])
        } catch {
            throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                               "this instance (\(instanceName)) cannot reach instance \(owner) at \(base), which delivers the "
                                   + "service: \(error); retry", headers: [.retryAfter: "1"])
        }
    }

    /// Ends every forward in flight at once, each a retryable 503, and closes the connections to
    /// the other instances; later forwards fail the same way.
    func stopForwarding() async {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { try? await client.shutdown() }
    }

    /// As a service of the daemon: closes the connections once the daemon shuts down.
    func run() async throws {
        try? await gracefulShutdown()
        await stopForwarding()
    }
}
