import SegmentLog

/// Where some queued items of one kind are: `count` items from index `first` of that kind's list
/// in the record at `position` (an `enqueued` record, or a version 1 checkpoint holding a
/// pending transaction's items). The scheduler keeps these, not the items' bytes, and reads
/// the bytes back from the log when it forms a transaction.
public struct ItemRun: Sendable, Equatable {
    /// The record holding the items.
    public let position: LogPosition
    /// The index of the first item in the record's list of this kind.
    public let first: UInt32
    /// How many consecutive items of the list belong to the run.
    public let count: UInt32
    /// When the record was enqueued; the epoch for records written before the time was stored.
    public let enqueuedAt: SchedulerInstant

    /// A run of `count` items from index `first` of the record at `position`.
    public init(position: LogPosition, first: UInt32, count: UInt32, enqueuedAt: SchedulerInstant) {
        precondition(count > 0, "an empty run")
        precondition(UInt64(first) + UInt64(count) <= UInt64(UInt32.max), "run past the record's items")
        self.position = position
        self.first = first
        self.count = count
        self.enqueuedAt = enqueuedAt
    }

    /// The first `taken` items and the rest, as two runs.
    func split(taking taken: UInt32) -> (taken: ItemRun, rest: ItemRun) {
        precondition(taken > 0 && taken < count, "split \(taken) of \(count)")
        return (ItemRun(position: position, first: first, count: taken, enqueuedAt: enqueuedAt),
                ItemRun(position: position, first: first + taken, count: count - taken, enqueuedAt: enqueuedAt))
    }
}
