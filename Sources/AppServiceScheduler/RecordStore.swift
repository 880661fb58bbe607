import SegmentLog

/// Where the scheduler's records live, and all it asks of them: ``SegmentLog`` (the embedded
/// log) is one; a store shared by several instances implements the same protocol, so the
/// scheduler's logic exists once.
///
/// The records are opaque to the store: a type code, a payload and a position. Positions strictly
/// increase in the order of ``beginAppend(contentsOf:)`` calls and never change; the scheduler
/// keeps positions, not items, so ``records(at:)`` must find any record it has not allowed
/// ``compact(before:keeping:)`` to drop.
public protocol RecordStore: AnyObject, Sendable {
    /// What ``beginAppend(contentsOf:)`` returns.
    associatedtype Append: DurableAppend

    /// Assigns the next consecutive positions to `entries`, in call order, without waiting;
    /// the records are durable once ``DurableAppend/durable()`` returns.
    func beginAppend(contentsOf entries: [LogEntry]) throws -> Append
    /// Hands `apply` every record a replay folds, in position order: from where the last
    /// compaction left the replay to start (its floor) to the last record appended.
    func replay(_ apply: (LogRecord) throws -> Void) throws
    /// The records at `positions` (ascending, distinct); throws when one is not there.
    func records(at positions: [LogPosition]) throws -> [LogRecord]
    /// Drops the records below `floor` (durable, and where a replay now starts) except those at
    /// `live` (ascending, below `floor`), which stay readable at their positions; nil when
    /// nothing could be dropped.
    func compact(before floor: LogPosition, keeping live: [LogPosition]) async throws -> CompactionReport?
    /// Closes the current unit of storage (a segment), so that a compaction just after can drop
    /// everything appended so far.
    func sealActiveSegment() async throws
    /// Makes every record appended so far durable, whatever the sync policy.
    func synchronize() async throws
    /// Whether ``DurableAppend/durable()`` waits for stable storage (`always`) or less.
    var syncPolicy: SyncPolicy { get }
    /// The largest payload an append accepts.
    var recordBytesMax: Int { get }
    /// Counters, including the store's size (``LogStatistics/logBytes``).
    var statistics: LogStatistics { get }
    /// Where the store is, for messages (a directory, say).
    var location: String { get }
    /// The bytes still free where the store keeps its records.
    func availableBytes() throws -> Int
    /// Makes everything durable and releases the store.
    func close() async throws
}

/// Records whose positions are assigned and which become durable later.
public protocol DurableAppend: Sendable {
    /// The positions of the appended records, in order.
    var positions: ClosedRange<LogPosition> { get }
    /// Returns once the records are durable per the store's sync policy.
    func durable() async throws
}

extension PendingAppend: DurableAppend {}

extension SegmentLog: RecordStore {
    /// The log's directory.
    public var location: String { directory }

    /// Reads the log from its ``replayFloor`` again; ``AppServiceScheduler/open(directory:services:transport:clock:configuration:)``
    /// instead replays while it opens, reading the log once.
    public func replay(_ apply: (LogRecord) throws -> Void) throws {
        var cursor = try records(from: replayFloor)
        while let record = try cursor.next() { try apply(record) }
    }
}
