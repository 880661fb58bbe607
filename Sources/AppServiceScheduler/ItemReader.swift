import DequeModule
import SegmentLog

/// Reads the items that ``ItemRun``s point to back from the log.
///
/// Recently enqueued records are kept in a bounded window (``SchedulerConfiguration/readAheadBytesMax``),
/// so a service that keeps up never reads the log; a backlog is read from the log in position
/// order, through one forward cursor per service, so catching up reads each record once.
struct ItemReader {
    private let log: SegmentLog
    private let windowBytesMax: Int
    private var window: [LogPosition: EventBatch] = [:]
    private var windowOrder = Deque<(position: LogPosition, bytes: Int)>()
    private var windowBytes = 0
    private var cursors: [String: LogCursor] = [:]

    init(log: SegmentLog, windowBytesMax: Int) {
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
    mutating func items(_ runs: ItemRuns, of service: String) throws -> EventBatch {
        var records: [LogPosition: EventBatch] = [:]
        for position in runs.positions {
            records[position] = try window[position] ?? storedItems(at: position, of: service)
        }
        var items = EventBatch()
        for kind in ItemKind.allCases {
            for run in runs[kind] {
                let stored = records[run.position]![kind]
                guard Int(run.first) + Int(run.count) <= stored.count else {
                    throw SchedulerError.invalidRecord(position: run.position, reason:
                        "it holds \(stored.count) \(kind) items; the state refers to items \(run.first)..<\(run.first + run.count)")
                }
                let start = stored.index(stored.startIndex, offsetBy: Int(run.first))
                items[kind].append(contentsOf: stored[start..<stored.index(start, offsetBy: Int(run.count))])
            }
        }
        return items
    }

    /// Forgets `service`'s cursor (its file stays open until then).
    mutating func close(_ service: String) {
        cursors[service] = nil
    }

    private mutating func storedItems(at position: LogPosition, of service: String) throws -> EventBatch {
        let record = try record(at: position, cursor: service)
        do {
            return try SchedulerRecord.storedItems(typeCode: record.type, payload: record.payload)
        } catch {
            throw SchedulerError.invalidRecord(position: position, reason:
                "\(error) (\(record.location.segmentFileName) at offset \(record.location.offset))")
        }
    }

    /// The record at `position`, read forward from where `service`'s cursor stands. A cursor that
    /// is past it, ended at what was the log's end when it opened, or lost a segment to a
    /// compaction is opened again once at the position.
    private mutating func record(at position: LogPosition, cursor name: String) throws -> LogRecord {
        for attempt in 1...2 {
            if attempt == 2 || cursors[name].map({ $0.lastPosition >= position }) ?? true {
                cursors[name] = try log.records(from: position)
            }
            do {
                while let record = try cursors[name]!.next() {
                    if record.position == position { return record }
                    if record.position > position { break }
                }
            } catch where attempt == 1 {
                continue
            }
        }
        cursors[name] = nil
        throw SchedulerError.invalidRecord(position: position, reason: "no record at this position, which the state refers to for its items")
    }
}
