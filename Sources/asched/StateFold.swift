import AppServiceScheduler
import AppServiceSchedulerPostgres
import ArgumentParser
import SegmentLog

/// Folds a log's records into the scheduler state, as `open` would, up to a position.
struct StateFold {
    /// Records below this position were compacted away as history; only their items are read.
    let floor: LogPosition
    /// Whether a record at or above `floor` is folded: in a database, a service compacted by a
    /// store holding its lease has a floor of its own.
    private let isReplayed: (LogRecord) -> Bool
    private(set) var state = SchedulerState()
    private(set) var lastPosition = LogPosition.start
    private(set) var records = 0

    init(floor: LogPosition) {
        self.floor = floor
        isReplayed = { _ in true }
    }

    /// The fold of a database's records, each service's floor included.
    init(_ reader: PostgresRecordReader) {
        floor = reader.replayFloor
        isReplayed = reader.isReplayed
    }

    /// Applies one record (none below the floors); throws `SchedulerError.invalidRecord` naming its position.
    mutating func apply(_ record: LogRecord) throws {
        guard record.position >= floor, isReplayed(record) else { return }
        try state.apply(record)
        lastPosition = record.position
        records += 1
    }

    /// The state after replaying `source` through `upperBound` (all of it when nil).
    static func replay(_ source: RecordSourceOptions.Source, through upperBound: LogPosition?) throws -> StateFold {
        switch source {
        case .directory(let directory):
            return try replay(try LogDirectoryOptions.reader(directory), through: upperBound)
        case .database(let url):
            let reader = try PostgresRecordReader(url: url)
            defer { reader.close() }
            var fold = StateFold(reader)
            try fold.checkReachable(upperBound)
            var progress = Progress("replayed")
            var bytes = 0
            try reader.records(from: fold.floor, through: upperBound) { record in
                try fold.apply(record)
                bytes += record.payload.count
                progress.update(records: fold.records, bytes: bytes)
            }
            progress.finish()
            return fold
        }
    }

    private func checkReachable(_ upperBound: LogPosition?) throws {
        if let upperBound, upperBound < floor {
            throw ValidationError("the state at position \(upperBound) is gone: compaction summarized everything before position \(floor)")
        }
    }

    /// The state after replaying `reader` through `upperBound` (all of it when nil).
    static func replay(_ reader: LogReader, through upperBound: LogPosition?) throws -> StateFold {
        var fold = StateFold(floor: reader.replayFloor)
        try fold.checkReachable(upperBound)
        var cursor = try reader.records(from: fold.floor, through: upperBound)
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
