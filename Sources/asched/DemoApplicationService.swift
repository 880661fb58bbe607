import Foundation
import Hummingbird
import Logging

/// The demo's stand-in application services: one loopback HTTP server answering
/// `PUT /{service}/_matrix/app/v1/transactions/{txnId}` for every service, which can be told
/// to go DOWN (answer 503) and come back.
actor DemoApplicationService {
    private(set) var delivered: [String: Set<Int>] = [:]
    private(set) var transactions: [String: Set<UInt64>] = [:]
    private(set) var refused = 0
    private var down: Set<String> = []

    func setDown(_ service: String, _ isDown: Bool) {
        if isDown { down.insert(service) } else { down.remove(service) }
    }

    /// Takes a transaction; false when the service is DOWN.
    func receive(service: String, transaction: UInt64, events: [[String: Any]]) -> Bool {
        guard !down.contains(service) else {
            refused += 1
            return false
        }
        transactions[service, default: []].insert(transaction)
        for event in events {
            if let number = (event["content"] as? [String: Any])?["n"] as? Int { delivered[service, default: []].insert(number) }
        }
        return true
    }

    /// The HTTP server; `token(service)` is the `hs_token` each service expects.
    nonisolated func application(token: @escaping @Sendable (String) -> String,
                                 onServerRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.put(":service/_matrix/app/v1/transactions/:txn") { request, context -> Response in
            let service = try context.parameters.require("service")
            let transaction = try context.parameters.require("txn", as: UInt64.self)
            guard request.headers[.authorization] == "Bearer \(token(service))" else {
                return Response(status: .forbidden)
            }
            let body = try await request.body.collect(upTo: 16 << 20)
            let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            let events = object?["events"] as? [[String: Any]] ?? []
            guard await self.receive(service: service, transaction: transaction, events: events) else {
                return Response(status: .serviceUnavailable)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        var logger = Logger(label: "asched-demo-services")
        logger.logLevel = .error
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                           onServerRunning: { await onServerRunning($0.localAddress?.port ?? 0) }, logger: logger)
    }
}
