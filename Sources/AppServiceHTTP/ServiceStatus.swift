import AppServiceScheduler

/// One service's state as the HTTP API (`GET /_asched/v1/services`) and `asched state --json`
/// report it: a wire type, so its JSON (snake_case keys, absent optionals left out, times in
/// milliseconds since the Unix epoch) is pinned and its fields follow the JSON, not the scheduler.
package struct ServiceStatus: Codable, Sendable, Equatable {
    /// The service id.
    package let id: String
    /// `up` or `down`.
    package let state: String
    /// Transactions created and not completed.
    package let pendingTxns: Int
    /// The pending transactions' ids, oldest first.
    package let pendingTxnIds: [UInt64]
    /// The transaction whose send started and has no outcome yet.
    package let inFlightTxn: UInt64?
    /// Persistent events not yet in a transaction.
    package let queuedEvents: Int
    /// Ephemeral events not yet in a transaction.
    package let queuedEphemeral: Int
    /// To-device messages not yet in a transaction.
    package let queuedToDevice: Int
    /// The last transaction the service accepted.
    package let lastCompletedTxn: UInt64?
    /// The id the next transaction gets.
    package let nextTxnId: UInt64
    /// Failed retries since the last success.
    package let backoffCounter: Int
    /// When the recoverer retries next (DOWN services only).
    package let nextRetryAt: Int64?
    /// How long the oldest undelivered item (queued, or in a pending transaction) has waited
    /// since it was enqueued, at the time the status was taken: how far behind the service is.
    /// 0 when nothing is undelivered; absent when the status was taken without a time.
    package let oldestQueuedAgeMs: Int64?
    /// Relayed transactions answered `200 {}` since the daemon started, duplicates included;
    /// absent outside the daemon (`asched state` reads a log, which keeps no such count).
    package let relayTransactionsReceived: Int?
    /// Of those, the retries that wrote nothing; absent outside the daemon.
    package let relayTransactionsDeduplicated: Int?
    /// The `instance_name` of the instance delivering the service (holding the database's
    /// writer lease; on the embedded log, the daemon answering); absent outside the daemon.
    package let owner: String?

    /// The status of `service`, whose state is `state`; `now` gives ``oldestQueuedAgeMs`` and
    /// `relay` the relay counts, `owner` the delivering instance.
    package init(id: String, state: ServiceState, now: SchedulerInstant? = nil, relay: RelayCounts? = nil, owner: String? = nil) {
        self.id = id
        self.state = state.status.rawValue
        pendingTxns = state.pending.count
        pendingTxnIds = state.pending.map(\.id)
        inFlightTxn = state.inFlight
        queuedEvents = state.queued.count(.events)
        queuedEphemeral = state.queued.count(.ephemeral)
        queuedToDevice = state.queued.count(.toDevice)
        lastCompletedTxn = state.lastCompletedTransactionID
        nextTxnId = state.nextTransactionID
        backoffCounter = state.backoffCounter
        nextRetryAt = state.retryDue?.millisecondsSinceEpoch
        oldestQueuedAgeMs = now.map { now in
            let oldest = ([state.queued.oldestEnqueuedAt] + state.pending.map(\.items.oldestEnqueuedAt)).compactMap { $0 }.min()
            // A clock stepped back would give a negative age; the item has waited at least 0 ms.
            return oldest.map { max(0, now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) } ?? 0
        }
        relayTransactionsReceived = relay?.received
        relayTransactionsDeduplicated = relay?.deduplicated
        self.owner = owner
    }

    /// Every service of `state`, and each of `configured` that the log has no record of yet (as a
    /// fresh service), sorted by id. With `now`, each status has its ``oldestQueuedAgeMs``; with
    /// `relayCounts`, each has relay counts (0 for a service missing from them); with `owner`, each names it.
    package static func all(in state: SchedulerState, configured: [String] = [], now: SchedulerInstant? = nil,
                            relayCounts: [String: RelayCounts]? = nil, owner: String? = nil) -> [ServiceStatus] {
        Set(state.services.keys).union(configured).sorted().map { id in
            ServiceStatus(id: id, state: state.services[id] ?? ServiceState(), now: now,
                          relay: relayCounts.map { $0[id] ?? RelayCounts() }, owner: owner)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, state
        case pendingTxns = "pending_txns"
        case pendingTxnIds = "pending_txn_ids"
        case inFlightTxn = "in_flight_txn"
        case queuedEvents = "queued_events"
        case queuedEphemeral = "queued_ephemeral"
        case queuedToDevice = "queued_to_device"
        case lastCompletedTxn = "last_completed_txn"
        case nextTxnId = "next_txn_id"
        case backoffCounter = "backoff_counter"
        case nextRetryAt = "next_retry_at"
        case oldestQueuedAgeMs = "oldest_queued_age_ms"
        case relayTransactionsReceived = "relay_transactions_received"
        case relayTransactionsDeduplicated = "relay_transactions_deduplicated"
        case owner
    }
}
