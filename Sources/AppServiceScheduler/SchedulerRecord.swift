import SegmentLog

/// A decision of the scheduler, as stored in the log. The scheduler's state is the fold of
/// these records (``SchedulerState/apply(_:)``), live and on replay alike.
public enum SchedulerRecord: Sendable, Equatable {
    /// Items accepted for a service at `at`; durable before `enqueue` returns. The record stays
    /// in the log while any of its items is queued or pending: the state refers to it by position.
    case enqueued(service: String, items: EventBatch, at: SchedulerInstant)
    /// A transaction a homeserver pushed through the relay, under its own id `transaction`, whose
    /// sorted event ids have the digest `eventIDs`: its items are queued as an `enqueued`
    /// record's, and the id joins the service's ``RelayWindow``, so a retry is recognised.
    case relayed(service: String, transaction: String, eventIDs: EventIDDigest, items: EventBatch, at: SchedulerInstant)
    /// A transaction made of the first `events`, `ephemeral`, `toDevice` and `deviceData` queued items.
    case transactionCreated(service: String, id: UInt64, events: Int, ephemeral: Int, toDevice: Int, deviceData: Int = 0,
                            fields: BodyFields)
    /// Attempt number `attempt` to send a transaction started.
    case sendStarted(service: String, id: UInt64, attempt: Int)
    /// The service accepted the transaction.
    case sendSucceeded(service: String, id: UInt64)
    /// The attempt failed.
    case sendFailed(service: String, id: UInt64, reason: String)
    /// The transaction is done and leaves the pending list.
    case transactionCompleted(service: String, id: UInt64)
    /// The service was marked DOWN.
    case serviceDown(service: String)
    /// The service was marked UP.
    case serviceUp(service: String)
    /// The recoverer will retry at `due`: retry number `counter`, `delay` after the failure.
    case backoffScheduled(service: String, counter: Int, delay: Duration, due: SchedulerInstant)
    /// An operator asked for a retry now.
    case forcedRetry(service: String)
    /// One service's whole state, its queue as runs of the records holding the items (the first
    /// runs only, when `continued` `queueContinued` records follow it: the state takes effect
    /// once the last of them is applied, so a log cut inside a checkpoint replays to the state
    /// before it). Compaction appends one per service; records before them are then only read
    /// for their items.
    case checkpoint(service: String, state: ServiceState, continued: Int = 0)
    /// More runs of the queue of the service whose `checkpoint` comes just before, so no
    /// checkpoint record grows past the log's record limit however long the queue is.
    case queueContinued(service: String, runs: ItemRuns)
    /// The service was retired (`asched purge-service`) at `at`: its queued and pending items are
    /// dropped; its next transaction id and relay window stay.
    case servicePurged(service: String, at: SchedulerInstant)

    /// Which kind of record this is; its code is the frame type it is stored with.
    public var type: RecordType {
        switch self {
        case .enqueued: .enqueued
        case .relayed: .relayed
        case .transactionCreated: .transactionCreated
        case .sendStarted: .sendStarted
        case .sendSucceeded: .sendSucceeded
        case .sendFailed: .sendFailed
        case .transactionCompleted: .transactionCompleted
        case .serviceDown: .serviceDown
        case .serviceUp: .serviceUp
        case .backoffScheduled: .backoffScheduled
        case .forcedRetry: .forcedRetry
        case .checkpoint: .checkpoint
        case .queueContinued: .queueContinued
        case .servicePurged: .servicePurged
        }
    }

    /// The record as the log stores it.
    public var logEntry: LogEntry { LogEntry(type: type.rawValue, payload: encoded()) }

    /// The transaction the record is about, if it is about one.
    public var transactionID: UInt64? {
        switch self {
        case .transactionCreated(_, let id, _, _, _, _, _), .sendStarted(_, let id, _), .sendSucceeded(_, let id),
             .sendFailed(_, let id, _), .transactionCompleted(_, let id):
            id
        case .enqueued, .relayed, .serviceDown, .serviceUp, .backoffScheduled, .forcedRetry, .checkpoint, .queueContinued,
             .servicePurged:
            nil
        }
    }

    /// The service the record concerns.
    public var service: String {
        switch self {
        case .enqueued(let service, _, _), .relayed(let service, _, _, _, _), .transactionCreated(let service, _, _, _, _, _, _),
             .sendStarted(let service, _, _), .sendSucceeded(let service, _), .sendFailed(let service, _, _),
             .transactionCompleted(let service, _), .serviceDown(let service), .serviceUp(let service),
             .backoffScheduled(let service, _, _, _), .forcedRetry(let service), .checkpoint(let service, _, _),
             .queueContinued(let service, _), .servicePurged(let service, _):
            service
        }
    }
}
