import AppServiceScheduler
import Foundation
import Hummingbird

/// `/_asched/v1/relay/{id}`: the address a homeserver's copy of registration `{id}` points at.
/// A transaction pushed there (`PUT .../_matrix/app/v1/transactions/{txnId}`, or the legacy
/// `PUT .../transactions/{txnId}`) becomes durable under the `fsync` policy, then `200 {}`.
///
/// Authenticated by the registration's `hs_token` (`Authorization: Bearer`, or the legacy
/// `access_token` query parameter), never by `ingest_token`: 401 `M_UNAUTHORIZED` without one,
/// 403 `M_FORBIDDEN` with a wrong one. A retry of a stored transaction (same `txnId`, same event
/// ids) writes nothing and answers `200 {}` too.
struct RelayController<Context: RequestContext> {
    let scheduler: AppServiceScheduler
    let metrics: SchedulerMetrics
    /// The registrations in force: whose `hs_token` a request must present.
    let registrations: Registrations
    let bodyBytesMax: Int
    let budget: RelayBodyBudget

    /// The relay of `registrations`, taking bodies of up to `configuration`'s
    /// `relayBodyBytesMax` and reading at most its `relayBytesInFlightMax` (or one largest body)
    /// of all requests' bodies at once.
    init(scheduler: AppServiceScheduler, metrics: SchedulerMetrics, registrations: Registrations,
         configuration: DaemonConfiguration) {
        self.scheduler = scheduler
        self.metrics = metrics
        self.registrations = registrations
        bodyBytesMax = configuration.relayBodyBytesMax
        budget = RelayBodyBudget(bytesMax: max(configuration.relayBytesInFlightMax, configuration.relayBodyBytesMax))
    }

    /// Adds the transaction routes to `group`, the relay's root (`_asched/v1/relay`).
    func addRoutes(to group: RouterGroup<Context>) {
        group.put(":id/_matrix/app/v1/transactions/:txnId", use: transaction)
        group.put(":id/transactions/:txnId", use: transaction)
    }

    /// `PUT {base}/_matrix/app/v1/transactions/{txnId}` → `200 {}` once the transaction is
    /// durable, or known to be a retry of one that is.
    @Sendable func transaction(_ request: Request, context: Context) async throws -> Response {
        let service = try RelayAuthentication.registration(for: request, context: context, in: registrations).id
        let rawTransactionID = try context.parameters.require("txnId")
        let transactionID = RelayAuthentication.decoded(rawTransactionID)
        var reservedBytes = 0
        defer { budget.release(reservedBytes) }
        let body = try await readBody(of: request, reservedBytes: &reservedBytes)
        let transaction = try RelayTransactionBody.transaction(try RequestJSON.document(parsing: body), transactionID: transactionID)
        let outcome: RelayOutcome
        do {
            outcome = try await scheduler.relay(transaction, for: service, itemsAreJSONObjects: true)
        } catch let error as SchedulerError {
            metrics.refused(error)
            throw error.httpError
        }
        metrics.relayed(outcome, itemCount: transaction.items.count, for: service)
        if case .storedReusingID = outcome {
            // A homeserver restarting its counter (Synapse on SQLite, synapse#14556) reuses ids for new data.
            context.logger.warning("relayed transaction reuses a stored txnId with different event ids; stored as new data",
                                   metadata: ["service": "\(service)", "txn": "\(transactionID)"])
        }
        return try RequestJSON.response([String: Any]())
    }

    /// The body, read within ``bodyBytesMax`` (413 past it) and the ``budget`` (503 past it),
    /// reserving the declared length at once and anything beyond it as it arrives; the caller
    /// releases `reservedBytes`.
    private func readBody(of request: Request, reservedBytes: inout Int) async throws -> [UInt8] {
        // A length that is not a count (negative, say) is as good as none: the body is read within the limits anyway.
        let declaredBytes = request.headers[.contentLength].flatMap { UInt($0) }.flatMap { Int(exactly: $0) }
        if let declaredBytes, declaredBytes > bodyBytesMax { throw tooLarge() }
        try reserve(declaredBytes ?? 0, adding: &reservedBytes)
        var body: [UInt8] = []
        body.reserveCapacity(declaredBytes ?? 0)
        for try await chunk in request.body {
            guard chunk.readableBytes <= bodyBytesMax - body.count else { throw tooLarge() }
            let bytes = body.count + chunk.readableBytes
            if bytes > reservedBytes { try reserve(bytes - reservedBytes, adding: &reservedBytes) }
            body.append(contentsOf: chunk.readableBytesView)
        }
        return body
    }

    private func reserve(_ bytes: Int, adding reservedBytes: inout Int) throws {
        guard budget.reserve(bytes) else {
            metrics.refusedRelayBody()
            throw HTTPAPIError(.serviceUnavailable, "M_RESOURCE_LIMIT_EXCEEDED",
                               "relay request bodies being read at once would exceed \(budget.bytesMax) bytes; retry shortly")
        }
        reservedBytes += bytes
    }

    private func tooLarge() -> HTTPAPIError {
        HTTPAPIError(.contentTooLarge, "M_TOO_LARGE", "the transaction exceeds max_relay_body_size (\(bodyBytesMax) bytes)")
    }
}
