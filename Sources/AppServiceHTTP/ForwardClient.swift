import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Sends the relay's synchronous requests (user and alias queries, third-party lookups, pings,
/// key claims) on to a service and returns its answer, within bounded time: the homeserver
/// waits on these (Synapse blocks its appservice loop on a user query, synapse#17621), so an
/// unreachable service is a quick 502 `M_CONNECTION_FAILED` and a slow one a 504
/// `M_CONNECTION_TIMEOUT`, never a hang. One attempt per request; runs as a service of the
/// daemon so its connections close on shutdown.
final class ForwardClient: Service {
    /// The largest answer passed back; a service's answers to these requests are small JSON.
    static let responseBytesMax = 16 << 20

    /// A service's answer, passed back as it came.
    struct Answer: Sendable {
        let status: HTTPResponse.Status
        let contentType: String?
        let body: ByteBuffer
    }

    private let client: HTTPClient
    let timeouts: ForwardTimeouts

    init(timeouts: ForwardTimeouts = ForwardTimeouts()) {
        // The homeserver is waiting, and will ask again itself.
        client = .failingFast(connectTimeout: timeouts.connect)
        self.timeouts = timeouts
    }

    /// Sends `method` to `url` (already percent-encoded) with the service's `hsToken` as bearer,
    /// `contentType` and `body`, and returns the service's status, content type and body.
    func send(_ method: HTTPRequest.Method, to url: String, hsToken: String, contentType: String?,
              body: ByteBuffer?) async throws(HTTPAPIError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method.rawValue)
        request.headers.add(name: "Authorization", value: "Bearer \(hsToken)")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(body) }
        do {
            let response = try await client.execute(request, deadline: .now() + timeouts.total.timeAmount)
            let answer = try await response.body.collect(upTo: Self.responseBytesMax)
            return Answer(status: HTTPResponse.Status(code: Int(response.status.code)),
                          contentType: response.headers.first(name: "Content-Type"), body: answer)
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError(.badGateway, "M_UNKNOWN", "the service's answer exceeds \(Self.responseBytesMax) bytes")
        } catch let error where Self.isTimeout(error) {
            throw HTTPAPIError(.gatewayTimeout, "M_CONNECTION_TIMEOUT",
                               "the application service did not answer within \(timeouts.total)")
        } catch {
            throw HTTPAPIError(.badGateway, "M_CONNECTION_FAILED", "cannot reach the application service: \(error)")
        }
    }

    /// The raw path after `/_asched/v1/relay/{id}`, starting with `/`.
    static func pathAfterBase(_ path: String) -> String {
        let afterPrefix = path.dropFirst(RelayAuthentication.pathPrefix.count)
        return String(afterPrefix[(afterPrefix.firstIndex(of: "/") ?? afterPrefix.endIndex)...])
    }

    /// `base` (its trailing `/` dropped, its own path kept, as Synapse builds it) followed by
    /// `pathAfterBase` and `query` less `access_token`. Existing percent-escapes are kept as
    /// they are; only characters a URL cannot carry raw are escaped.
    static func targetURL(base: URL, pathAfterBase: String, query: String?) -> String {
        var url = base.absoluteString
        while url.hasSuffix("/") { url.removeLast() }
        url += pathAfterBase.addingPercentEncoding(withAllowedCharacters: pathAllowed) ?? pathAfterBase
        if let query = RelayAuthentication.queryWithoutToken(query) {
            url += "?" + (query.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? query)
        }
        return url
    }

    private static let pathAllowed = CharacterSet.urlPathAllowed.union(CharacterSet(charactersIn: "%"))
    private static let queryAllowed = CharacterSet.urlQueryAllowed.union(CharacterSet(charactersIn: "%"))

    /// Whether `error` is the client's deadline or a timeout, not a failure to connect.
    static func isTimeout(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error)
        }
        if case ChannelError.connectTimeout = error { return true }
        return false
    }

    /// Waits for the daemon's graceful shutdown, then closes the connections.
    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
