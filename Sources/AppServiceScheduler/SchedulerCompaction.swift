import SegmentLog
import DequeModule

/// What stands in for the scheduler's sealed history when the log is compacted: per service,
/// a checkpoint of its state and its queue refilled in chunks. Completed transactions and their
/// events are gone; ids, positions after the compacted range and pending work are unchanged.
public enum SchedulerCompaction {
    /// Queued items per `enqueued` record written by compaction, so no record grows past the
    /// log's record limit however long a queue gets.
    static let queuedChunkBytes = 1 << 20

    /// The records that fold to `state` (from an empty state).
    public static func records(for state: SchedulerState) -> [SchedulerRecord] {
        var records: [SchedulerRecord] = []
        for (id, service) in state.services.sorted(by: { $0.key < $1.key }) {
            var withoutQueue = service
            withoutQueue.queued = EventBatch()
            records.append(.checkpoint(service: id, state: withoutQueue))
            records += chunks(of: service.queued).map { .enqueued(service: id, items: $0) }
        }
        return records
    }

    /// Compacts the sealed segments of a scheduler's log; nil when there was nothing worth it.
    /// Throws, leaving the log as it was, when a service's checkpoint (its pending transactions
    /// with their items) would exceed the log's record limit.
    public static func compact(_ log: SegmentLog) async throws -> CompactionReport? {
        let recordBytesMax = log.recordBytesMax
        return try await log.compactSealedSegments { cursor in
            var state = SchedulerState()
            while let record = try cursor.next() { try state.apply(record) }
            let records = Self.records(for: state)
            guard records.count < cursor.recordsReturned else { return nil }
            let entries = records.map { $0.logEntry }
            if let oversized = zip(records, entries).first(where: { $0.1.payload.count > recordBytesMax }) {
                throw SchedulerError.batchTooLarge(service: oversized.0.service, bytes: oversized.1.payload.count,
                                                   max: recordBytesMax)
            }
            return entries
        }
    }

    /// `items` split into batches of at most ``queuedChunkBytes`` (at least one item each), in order.
    private static func chunks(of items: EventBatch) -> [EventBatch] {
        var chunks: [EventBatch] = []
        var current = EventBatch()
        var bytes = 0
        func add(_ item: [UInt8], _ kind: WritableKeyPath<EventBatch, Deque<[UInt8]>>) {
            if bytes + item.count > queuedChunkBytes && !current.isEmpty {
                chunks.append(current)
                current = EventBatch()
                bytes = 0
            }
            current[keyPath: kind].append(item)
            bytes += item.count
        }
        for item in items.events { add(item, \.events) }
        for item in items.ephemeral { add(item, \.ephemeral) }
        for item in items.toDevice { add(item, \.toDevice) }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }
}
