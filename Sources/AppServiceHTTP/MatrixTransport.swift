import AppServiceScheduler
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The Matrix application service API as a ``Transport``: `PUT {url}/_matrix/app/v1/transactions/{txnId}`
/// with `Authorization: Bearer <hs_token>` and the transaction's body. Success is a 2xx answer
/// whose body is a JSON object; anything else (an error, a timeout, another status, no JSON)
/// is a failure the scheduler's recoverer retries. One attempt per call, connections reused.
/// Each attempt reads the service's registration as it is then, so a reloaded `url` or
/// `hs_token` applies from the next attempt on.
final class MatrixTransport: Transport {
    /// The largest success body read; a service's answer is normally `{}`.
    static let responseBytesMax = 1 << 20

    private let client: HTTPClient
    private let registrations: Registrations
    private let requestTimeout: TimeAmount

    /// A transport to the services of `registrations`, each attempt bounded by `requestTimeout`
    /// and its connection's establishment by `connectTimeout`.
    init(registrations: Registrations, requestTimeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(5)) {
        // A refused connection fails the attempt at once, so the service is marked DOWN at once.
        client = .failingFast(connectTimeout: connectTimeout, readTimeout: requestTimeout)
        self.registrations = registrations
        self.requestTimeout = requestTimeout.timeAmount
    }

    /// The URL a transaction is sent to.
    static func transactionURL(base: URL, id: UInt64) -> String {
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text + "/_matrix/app/v1/transactions/\(id)"
    }

    func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        guard let registration = registrations[transaction.service] else {
            return .failed(reason: "no registration for service \(transaction.service)")
        }
        var request = HTTPClientRequest(url: Self.transactionURL(base: registration.url, id: transaction.id))
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(registration.hsToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: transaction.body))
        do {
            let response = try await client.execute(request, timeout: requestTimeout)
            guard (200..<300).contains(response.status.code) else {
                return .failed(reason: "HTTP \(response.status.code) from \(registration.url.host ?? "service")")
            }
            let body = try await response.body.collect(upTo: Self.responseBytesMax)
            guard (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) is [String: Any] else {
                return .failed(reason: "HTTP \(response.status.code) without a JSON object body")
            }
            return .delivered
        } catch {
            return .failed(reason: "\(error)")
        }
    }

    /// Closes the connections; call once, when the daemon stops.
    func shutdown() async throws {
        try await client.shutdown()
    }
}
