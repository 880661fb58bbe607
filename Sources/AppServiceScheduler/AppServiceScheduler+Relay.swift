import SegmentLog

extension AppServiceScheduler {
    /// Names a relayed transaction among those whose records are appended and not yet known durable.
    struct RelayKey: Hashable {
        let service: String
        let transaction: String
    }

    /// Stores a transaction a homeserver pushed for `service`, unless it is a retry of one the
    /// service's ``RelayWindow`` remembers (same id, same event ids), and returns once what it
    /// carries is durable (per the log's sync policy; for a retry, once the original is).
    ///
    /// Unlike ``enqueue(_:for:)`` it refuses no kind of item: what a homeserver sends under a
    /// registration is delivered under the same registration's rules, which leave out the
    /// kinds the service does not receive. A transaction without items still joins the window.
    /// Throws as ``enqueue(_:for:)`` does for an unknown service, an oversized transaction, a
    /// full log or disk, or a stopped scheduler; an item that is not a JSON object throws
    /// ``SchedulerError/invalidItem(service:kind:index:reason:)`` and writes nothing.
    public func relay(_ transaction: RelayedTransaction, for service: String) async throws -> RelayOutcome {
        try await relay(transaction, for: service, itemsAreJSONObjects: false)
    }

    /// ``relay(_:for:)`` for a caller that parsed every item as a JSON object already (the relay route).
    package func relay(_ transaction: RelayedTransaction, for service: String,
                       itemsAreJSONObjects: Bool) async throws -> RelayOutcome {
        try checkOpen()
        guard services[service] != nil else { throw SchedulerError.unknownService(service) }
        if !itemsAreJSONObjects { try Self.checkJSONObjects(transaction.items, service: service) }
        let key = RelayKey(service: service, transaction: transaction.transactionID)
        let remembered = state.services[service]?.relayWindow.digest(of: transaction.transactionID)
        if remembered == transaction.eventIDs {
            // The original may still be on its way to disk: answer the retry no sooner.
            if let original = relaysAwaitingDurability[key] { try await waitDurable(original) }
            return .duplicate
        }
        try checkRoom()
        let pending = try record([.relayed(service: service, transaction: transaction.transactionID,
                                           eventIDs: transaction.eventIDs, items: transaction.items, at: clock.now)])
        let position = pending.positions.lowerBound
        itemReader.remember(transaction.items, at: position)
        relaysAwaitingDurability[key] = pending
        pump(service)
        defer {
            if relaysAwaitingDurability[key]?.positions == pending.positions { relaysAwaitingDurability[key] = nil }
        }
        try await waitDurable(pending)
        return remembered == nil ? .stored(position) : .storedReusingID(position)
    }
}
