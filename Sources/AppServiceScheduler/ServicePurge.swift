/// What ``AppServiceScheduler/purge(_:)`` dropped of a retired service.
public struct ServicePurge: Sendable, Equatable {
    /// Queued items, by kind.
    public let queuedItems: [ItemKind: Int]
    /// The pending transactions' ids, oldest first.
    public let pendingTransactions: [UInt64]
    /// Items in those pending transactions.
    public let pendingItems: Int
    /// The id the service's next transaction gets if it comes back.
    public let nextTransactionID: UInt64

    /// What purging a service in `state` drops.
    public init(of state: ServiceState) {
        queuedItems = Dictionary(uniqueKeysWithValues: ItemKind.allCases.map { ($0, state.queued.count($0)) })
        pendingTransactions = state.pending.map(\.id)
        pendingItems = state.pending.reduce(0) { $0 + $1.items.count }
        nextTransactionID = state.nextTransactionID
    }
}
