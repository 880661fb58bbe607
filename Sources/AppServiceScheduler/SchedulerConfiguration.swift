import SegmentLog

/// Settings of an ``AppServiceScheduler``.
public struct SchedulerConfiguration: Sendable {
    /// Caps on the items in one transaction.
    public var limits = TransactionLimits()
    /// The recoverer's backoff.
    public var backoff = BackoffPolicy()
    /// Compact the log automatically once this many segments were sealed since the last
    /// compaction; nil compacts only when ``AppServiceScheduler/compact()`` is called.
    public var compactAfterSealedSegments: Int? = 4
    /// How many bytes of recently enqueued items are kept in memory, so a service that keeps up
    /// is sent its items without reading them back from the log. A backlog beyond it is read
    /// from the log, a transaction at a time.
    public var readAheadBytesMax = 32 << 20
    /// The log's size (``LogStatistics/logBytes``) past which new items are refused with
    /// ``SchedulerError/logBudgetExceeded(logBytes:budgetBytes:)`` while delivery goes on and
    /// compaction reclaims what was delivered; nil for no budget.
    public var logBytesMax: Int?
    /// The free space on the log's device below which new items are refused with
    /// ``SchedulerError/diskSpaceLow(availableBytes:floorBytes:directory:)``, so the records
    /// that deliver and compact the backlog still find room.
    public var availableBytesMin = 64 << 20
    /// Where the scheduler's own tasks (sends, retry timers, background compactions) run; nil
    /// for Swift's global executor. A simulation passes one serial executor for everything (with
    /// the log's `executor` simulated too), so a seed replays the same interleaving every time.
    public var taskExecutor: (any TaskExecutor)?
    /// The log's settings (segment size, sync policy, compression, file system).
    public var log = SegmentLog.Configuration()
    /// Called with each record's position and the state right after it is applied, live and
    /// on replay; tests use it to compare the two.
    package var onRecordApplied: (@Sendable (LogPosition, SchedulerState) -> Void)?

    /// Synapse's defaults: 100 items per kind per transaction, 2 s to 512 s backoff; the log's
    /// defaults (`always` sync).
    public init() {}
}
