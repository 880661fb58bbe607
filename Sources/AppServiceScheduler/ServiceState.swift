import SegmentLog

/// One service's part of ``SchedulerState``.
public struct ServiceState: Sendable, Equatable {
    /// Whether the service is taking transactions.
    public enum Status: String, Sendable {
        /// Transactions are sent as items arrive.
        case up
        /// A send failed; the recoverer retries with backoff and items wait in the queue.
        case down
    }

    /// UP or DOWN.
    public internal(set) var status: Status = .up
    /// Items not yet in a transaction, as runs of the log records holding them.
    public internal(set) var queued = ItemRuns()
    /// Transactions created and not completed, oldest first.
    public internal(set) var pending: [Transaction] = []
    /// The transaction whose latest send started and has no outcome in the log yet.
    public internal(set) var inFlight: UInt64?
    /// The id the next transaction gets.
    public internal(set) var nextTransactionID: UInt64 = 1
    /// The last transaction the service accepted, or nil.
    public internal(set) var lastCompletedTransactionID: UInt64?
    /// Failed retries since the last success (the `n` of the backoff).
    public internal(set) var backoffCounter = 0
    /// When the recoverer retries next, while DOWN.
    public internal(set) var retryDue: SchedulerInstant?
    /// When the service was last retired with `asched purge-service`, if ever.
    public internal(set) var purgedAt: SchedulerInstant?
    /// The transaction ids the homeserver pushed most recently through the relay.
    public internal(set) var relayWindow = RelayWindow()

    /// A service with nothing queued, UP, whose first transaction will be 1.
    public init() {}

    /// The state with the runs of a version 1 checkpoint's own items pointing at `position`.
    func referring(to position: LogPosition) -> ServiceState {
        var state = self
        state.queued = queued.referring(to: position)
        state.pending = pending.map { Transaction(id: $0.id, items: $0.items.referring(to: position), fields: $0.fields, attempts: $0.attempts) }
        return state
    }
}
