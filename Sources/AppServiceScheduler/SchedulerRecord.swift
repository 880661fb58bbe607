/// A decision of the scheduler, as stored in the log. The scheduler's state is the fold of
/// these records (``SchedulerState/apply(_:)``), live and on replay alike.
public enum SchedulerRecord: Sendable, Equatable {
    /// Items accepted for a service; durable before `enqueue` returns.
    case enqueued(service: String, items: EventBatch)
    /// A transaction made of the first `events`, `ephemeral` and `toDevice` queued items.
    case transactionCreated(service: String, id: UInt64, events: Int, ephemeral: Int, toDevice: Int, fields: BodyFields)
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
    /// One service's whole state except its queue (which `enqueued` records after it refill),
    /// written by compaction in place of the records before it.
    case checkpoint(service: String, state: ServiceState)

    /// The frame type the record is stored with.
    public var typeCode: UInt8 {
        switch self {
        case .enqueued: 1
        case .transactionCreated: 2
        case .sendStarted: 3
        case .sendSucceeded: 4
        case .sendFailed: 5
        case .transactionCompleted: 6
        case .serviceDown: 7
        case .serviceUp: 8
        case .backoffScheduled: 9
        case .forcedRetry: 10
        case .checkpoint: 11
        }
    }

    /// The record's type name, as `asched dump --type` takes it.
    public var typeName: String {
        switch self {
        case .enqueued: "enqueued"
        case .transactionCreated: "transaction-created"
        case .sendStarted: "send-started"
        case .sendSucceeded: "send-succeeded"
        case .sendFailed: "send-failed"
        case .transactionCompleted: "transaction-completed"
        case .serviceDown: "service-down"
        case .serviceUp: "service-up"
        case .backoffScheduled: "backoff-scheduled"
        case .forcedRetry: "forced-retry"
        case .checkpoint: "checkpoint"
        }
    }

    /// The service the record concerns.
    public var service: String {
        switch self {
        case .enqueued(let service, _), .transactionCreated(let service, _, _, _, _, _),
             .sendStarted(let service, _, _), .sendSucceeded(let service, _), .sendFailed(let service, _, _),
             .transactionCompleted(let service, _), .serviceDown(let service), .serviceUp(let service),
             .backoffScheduled(let service, _, _, _), .forcedRetry(let service), .checkpoint(let service, _):
            service
        }
    }
}
