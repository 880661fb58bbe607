import SegmentLog

/// What observers of ``AppServiceScheduler/events()`` see, after the deciding record is in
/// the log.
public enum SchedulerEvent: Sendable, Equatable {
    /// An attempt to send a transaction started.
    case sending(service: String, transaction: UInt64, attempt: Int)
    /// The service accepted the transaction; it is complete.
    case completed(service: String, transaction: UInt64)
    /// An attempt failed.
    case failed(service: String, transaction: UInt64, reason: String)
    /// The service was marked DOWN.
    case down(service: String)
    /// The service was marked UP: nothing was pending any more.
    case up(service: String)
    /// The recoverer will retry at `due`, `delay` after the failure.
    case retryScheduled(service: String, due: SchedulerInstant, delay: Duration)
    /// A compaction of the log's sealed segments started.
    case compactionStarted
    /// The log's sealed segments were compacted.
    case compacted(CompactionReport)
    /// An automatic compaction failed; the log keeps its segments and grows until one succeeds.
    case compactionFailed(reason: String)
}
