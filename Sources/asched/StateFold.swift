import AppServiceScheduler
import SegmentLog

/// Folds a log's records into the scheduler state, as `open` would, up to a position.
struct StateFold {
    private(set) var state = SchedulerState()
    private(set) var lastPosition = LogPosition.start
    private(set) var records = 0

    /// Applies one record; throws `SchedulerError.invalidRecord` naming its position.
    mutating func apply(_ record: LogRecord) throws {
        try state.apply(record)
        lastPosition = record.position
        records += 1
    }

    /// The state after replaying `reader` through `upperBound` (all of it when nil).
    static func replay(_ reader: LogReader, through upperBound: LogPosition?) throws -> StateFold {
        var fold = StateFold()
        var cursor = try reader.records(from: .start, through: upperBound)
        var progress = Progress("replayed")
        var bytes = 0
        while let record = try cursor.next() {
            try fold.apply(record)
            bytes += record.location.storedBytes
            progress.update(records: fold.records, bytes: bytes)
        }
        progress.finish()
        return fold
    }
}
