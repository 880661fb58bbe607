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

    /// The status of `service`, whose state is `state`.
    package init(id: String, state: ServiceState) {
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
    }

    /// Every service of `state`, and each of `configured` that the log has no record of yet (as a
    /// fresh service), sorted by id.
    package static func all(in state: SchedulerState, configured: [String] = []) -> [ServiceStatus] {
        Set(state.services.keys).union(configured).sorted().map { ServiceStatus(id: $0, state: state.services[$0] ?? ServiceState()) }
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
    }
}
