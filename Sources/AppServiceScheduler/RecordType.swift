/// The kinds of ``SchedulerRecord``: the one table of the type codes they are stored with
/// (docs/FORMAT.md §9) and the names the offline tools show.
///
/// Adding a kind means adding a case here; the compiler then points at every switch that must
/// handle it (encoding, decoding, the fold, the tools' summaries).
public enum RecordType: UInt8, CaseIterable, Sendable {
    case enqueued = 1
    case transactionCreated = 2
    case sendStarted = 3
    case sendSucceeded = 4
    case sendFailed = 5
    case transactionCompleted = 6
    case serviceDown = 7
    case serviceUp = 8
    case backoffScheduled = 9
    case forcedRetry = 10
    case checkpoint = 11
    case queueContinued = 12
    case relayed = 13
    case servicePurged = 14

    /// The name `asched dump` prints and its `--type` option takes.
    public var name: String {
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
        case .queueContinued: "queue-continued"
        case .relayed: "relayed"
        case .servicePurged: "service-purged"
        }
    }
}
