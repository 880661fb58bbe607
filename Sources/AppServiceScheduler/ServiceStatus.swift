/// One service's state as the HTTP API (`GET /_asched/v1/services`) and `asched state --json`
/// report it. JSON keys are snake_case; times are milliseconds since the Unix epoch.
public struct ServiceStatus: Codable, Sendable, Equatable {
    /// The service id.
    public let id: String
    /// `up` or `down`.
    public let state: String
    /// Transactions created and not completed.
    public let pendingTxns: Int
    /// The pending transactions' ids, oldest first.
    public let pendingTxnIds: [UInt64]
    /// The transaction whose send started and has no outcome yet.
    public let inFlightTxn: UInt64?
    /// Persistent events not yet in a transaction.
    public let queuedEvents: Int
    /// Ephemeral events not yet in a transaction.
    public let queuedEphemeral: Int
    /// To-device messages not yet in a transaction.
    public let queuedToDevice: Int
    /// The last transaction the service accepted.
    public let lastCompletedTxn: UInt64?
    /// The id the next transaction gets.
    public let nextTxnId: UInt64
    /// Failed retries since the last success.
    public let backoffCounter: Int
    /// When the recoverer retries next (DOWN services only).
    public let nextRetryAt: Int64?

    /// The status of `service`, whose state is `state`.
    public init(id: String, state: ServiceState) {
        self.id = id
        self.state = state.status.rawValue
        pendingTxns = state.pending.count
        pendingTxnIds = state.pending.map(\.id)
        inFlightTxn = state.inFlight
        queuedEvents = state.queued.events.count
        queuedEphemeral = state.queued.ephemeral.count
        queuedToDevice = state.queued.toDevice.count
        lastCompletedTxn = state.lastCompletedTransactionID
        nextTxnId = state.nextTransactionID
        backoffCounter = state.backoffCounter
        nextRetryAt = state.retryDue?.millisecondsSinceEpoch
    }

    /// Every service of `state`, sorted by id.
    public static func all(in state: SchedulerState) -> [ServiceStatus] {
        state.services.sorted { $0.key < $1.key }.map { ServiceStatus(id: $0.key, state: $0.value) }
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
