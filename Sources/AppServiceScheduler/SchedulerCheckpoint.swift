import SegmentLog

/// What compaction appends: per service, sorted by id, a `checkpoint` of its whole state (its
/// queue split over `queueContinued` records when long), and the positions of the records its
/// queue and pending transactions read their items from, which must stay in the log.
package struct SchedulerCheckpoint {
    /// Queue runs per record, so no checkpoint record nears the log's record limit however long
    /// a queue gets (a run encodes to at most 40 bytes).
    static let runsPerRecordMax = 16_384

    package let records: [SchedulerRecord]
    /// Ascending, each once.
    package let livePositions: [LogPosition]

    package init(of state: SchedulerState) {
        var records: [SchedulerRecord] = []
        var live: Set<LogPosition> = []
        for (id, service) in state.services.sorted(by: { $0.key < $1.key }) {
            var chunks = Self.chunks(of: service.queued)
            var head = service
            head.queued = chunks.removeFirst()
            records.append(.checkpoint(service: id, state: head))
            records += chunks.map { .queueContinued(service: id, runs: $0) }
            live.formUnion(service.queued.positions)
            for transaction in service.pending { live.formUnion(transaction.items.positions) }
        }
        self.records = records
        self.livePositions = live.sorted()
    }

    /// `queue` split into runs of at most ``runsPerRecordMax`` each, in order; one empty chunk
    /// for an empty queue.
    private static func chunks(of queue: ItemRuns) -> [ItemRuns] {
        var chunks: [ItemRuns] = [ItemRuns()]
        var runsInChunk = 0
        for kind in ItemKind.allCases {
            for run in queue[kind] {
                if runsInChunk == runsPerRecordMax {
                    chunks.append(ItemRuns())
                    runsInChunk = 0
                }
                chunks[chunks.count - 1].append(run, kind)
                runsInChunk += 1
            }
        }
        return chunks
    }
}
