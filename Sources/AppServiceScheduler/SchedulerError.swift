import SegmentLog

/// Errors of the scheduler, each naming the service or log position involved.
public enum SchedulerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No service with this id is configured.
    case unknownService(String)
    /// An item is not a JSON object.
    case invalidItem(service: String, kind: String, index: Int, reason: String)
    /// The service does not take this kind of item.
    case kindNotAccepted(service: String, kind: String)
    /// `purge` was asked for a service that is still configured.
    case purgeOfConfiguredService(String)
    /// `purge` was asked for a service whose last attempt has not finished; retry once it has.
    case sendUnderWay(String)
    /// An enqueue carried no items.
    case emptyBatch(service: String)
    /// An enqueue's record would exceed the log's record limit; split the batch.
    case batchTooLarge(service: String, bytes: Int, max: Int)
    /// The log has reached its size budget (``SchedulerConfiguration/logBytesMax``); retry once
    /// the backlog has been delivered and compacted.
    case logBudgetExceeded(logBytes: Int, budgetBytes: Int)
    /// The log's device has less free space than ``SchedulerConfiguration/availableBytesMin``.
    case diskSpaceLow(availableBytes: Int, floorBytes: Int, directory: String)
    /// A record in the log cannot be decoded or does not fit the state before it.
    case invalidRecord(position: LogPosition, reason: String)
    /// The log failed; the scheduler stopped. Reopen it to recover.
    case storageFailed(String)
    /// The scheduler was closed.
    case closed

    public var description: String {
        switch self {
        case .unknownService(let service):
            return "no application service with id \"\(service)\" is configured"
        case .invalidItem(let service, let kind, let index, let reason):
            return "\(kind)[\(index)] for service \"\(service)\" is not a JSON object: \(reason)"
        case .kindNotAccepted(let service, let kind):
            return "service \"\(service)\" does not receive \(kind) (enable it in its registration)"
        case .batchTooLarge(let service, let bytes, let max):
            return "the batch for service \"\(service)\" encodes to \(bytes) bytes, over the log's record limit of \(max); send it in smaller batches"
        case .purgeOfConfiguredService(let service):
            return "service \"\(service)\" is still configured; remove its registration before purging it"
        case .sendUnderWay(let service):
            return "service \"\(service)\" has an attempt under way; purge it once the attempt has finished"
        case .emptyBatch(let service):
            return "nothing to enqueue for service \"\(service)\": events, ephemeral and to_device are all empty"
        case .logBudgetExceeded(let logBytes, let budgetBytes):
            return "the log holds \(logBytes) bytes, at its budget of \(budgetBytes) bytes (max_log_size); new items are refused until delivered ones are compacted away"
        case .diskSpaceLow(let availableBytes, let floorBytes, let directory):
            return "\(directory) has \(availableBytes) bytes free, under the floor of \(floorBytes) bytes kept for delivery and compaction; new items are refused until space is freed"
        case .invalidRecord(let position, let reason):
            return "log record at position \(position) is invalid: \(reason)"
        case .storageFailed(let cause):
            return "the scheduler stopped because its log failed: \(cause)"
        case .closed:
            return "the scheduler is closed"
        }
    }
}
