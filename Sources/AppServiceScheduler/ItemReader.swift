import DequeModule
import SegmentLog

/// Reads the items that ``ItemRun``s point to back from the log.
///
/// Recently enqueued records are kept in a bounded window (``SchedulerConfiguration/readAheadBytesMax``),
/// so a service that keeps up never reads the log; a backlog's records are read from the log a
/// transaction at a time, in one ascending pass (``RecordStore/records(at:)``).
struct ItemReader {
    private let log: any RecordStore
    private let windowBytesMax: Int
    private var window: [LogPosition: EventBatch] = [:]
    private var windowOrder = Deque<(position: LogPosition, bytes: Int)>()
    private var windowBytes = 0

    init(log: any RecordStore, windowBytesMax: Int) {
        precondition(windowBytesMax >= 0)
        self.log = log
        self.windowBytesMax = windowBytesMax
    }

    /// Keeps the items just enqueued at `position`, dropping the oldest kept past the window's size.
    mutating func remember(_ items: EventBatch, at position: LogPosition) {
        let bytes = ItemKind.allCases.reduce(0) { total, kind in items[kind].reduce(total) { $0 + $1.count } }
        guard bytes <= windowBytesMax else { return }
        window[position] = items
        windowOrder.append((position, bytes))
        windowBytes += bytes
        while windowBytes > windowBytesMax, let oldest = windowOrder.popFirst() {
            window[oldest.position] = nil
            windowBytes -= oldest.bytes
        }
    }

    /// The items `runs` point to, by kind, in order.
    func items(_ runs: ItemRuns) throws -> EventBatch {
        var records: [LogPosition: EventBatch] = [:]
        var locations: [LogPosition: RecordLocation] = [:]
        var unread: [LogPosition] = []
        for position in runs.positions {
            if let items = window[position] { records[position] = items } else { unread.append(position) }
        }
        for record in try log.records(at: unread) {
            records[record.position] = try Self.storedItems(in: record)
            locations[record.position] = record.location
        }
        var items = EventBatch()
        for kind in ItemKind.allCases {
            for run in runs[kind] {
                let stored = records[run.position]![kind]
                guard Int(run.first) + Int(run.count) <= stored.count else {
                    let place = locations[run.position].map { "\($0.segmentFileName) at offset \($0.offset)" } ?? "read-ahead window"
                    throw SchedulerError.invalidRecord(position: run.position, reason:
                        "it holds \(stored.count) \(kind) items; the state refers to items \(run.first)..<\(run.first + run.count) "
                        + "(\(place))")
                }
                let start = stored.index(stored.startIndex, offsetBy: Int(run.first))
                items[kind].append(contentsOf: stored[start..<stored.index(start, offsetBy: Int(run.count))])
            }
        }
        return items
    }

    private static func storedItems(in record: LogRecord) throws -> EventBatch {
        do {
            return try SchedulerRecord.storedItems(typeCode: record.type, payload: record.payload)
        } catch {
            throw SchedulerError.invalidRecord(position: record.position, reason:
                "\(error) (\(record.location.segmentFileName) at offset \(record.location.offset))")
        }
    }
}
