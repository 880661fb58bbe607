import SegmentLog

/// What compaction appends: per service, sorted by id, a `checkpoint` of its whole state (its
/// queue split over `queueContinued` records when long), and the positions of the records its
/// queue and pending transactions read their items from, which must stay in the log.
///
/// The records are made one at a time as ``records`` is iterated, so a compaction holds one
/// chunk of a long queue at once (a copy of ``runsPerRecordMax`` runs and its encoding), not a
/// second copy of the whole queue.
package struct SchedulerCheckpoint {
    /// Queue runs per record, so no checkpoint record nears the log's record limit however long
    /// a queue gets (a run encodes to at most 40 bytes).
    package static let runsPerRecordMax = 16_384

    /// The checkpoint's records, made as they are iterated.
    package struct Records: Sequence {
        fileprivate let services: [(id: String, state: ServiceState)]

        /// How many records iterating makes.
        package var count: Int {
            services.reduce(0) { $0 + Self.chunks(of: $1.state.queued) }
        }

        /// The records a service's checkpoint takes: its head and the `queueContinued` after it.
        static func chunks(of queue: ItemRuns) -> Int {
            let runs = ItemKind.allCases.reduce(0) { $0 + queue[$1].count }
            return Swift.max(1, (runs + runsPerRecordMax - 1) / runsPerRecordMax)
        }

        package func makeIterator() -> Iterator { Iterator(services: services) }
    }

    /// Makes each service's `checkpoint` record, then its `queueContinued` records.
    package struct Iterator: IteratorProtocol {
        fileprivate let services: [(id: String, state: ServiceState)]
        private var service = 0
        /// Where the next chunk of the current service's queue starts: a kind and a run of it.
        private var kind = 0
        private var run = 0
        private var checkpointMade = false

        fileprivate init(services: [(id: String, state: ServiceState)]) {
            self.services = services
        }

        package mutating func next() -> SchedulerRecord? {
            while service < services.count {
                let (id, state) = services[service]
                if !checkpointMade {
                    checkpointMade = true
                    var head = state
                    head.queued = nextChunk(of: state.queued)
                    return .checkpoint(service: id, state: head, continued: Records.chunks(of: state.queued) - 1)
                }
                if kind < ItemKind.allCases.count { return .queueContinued(service: id, runs: nextChunk(of: state.queued)) }
                (service, kind, run, checkpointMade) = (service + 1, 0, 0, false)
            }
            return nil
        }

        /// The next runs of `queue` in order, at most ``runsPerRecordMax``; empty for an empty queue.
        private mutating func nextChunk(of queue: ItemRuns) -> ItemRuns {
            var chunk = ItemRuns()
            var taken = 0
            while kind < ItemKind.allCases.count {
                let itemKind = ItemKind.allCases[kind]
                let runs = queue[itemKind]
                while run < runs.count && taken < runsPerRecordMax {
                    chunk.append(runs[runs.startIndex + run], itemKind)
                    run += 1
                    taken += 1
                }
                if run < runs.count { break }
                (kind, run) = (kind + 1, 0)
            }
            assert(taken <= runsPerRecordMax)
            return chunk
        }
    }

    package let records: Records
    /// Ascending, each once.
    package let livePositions: [LogPosition]

    package init(of state: SchedulerState) {
        let services = state.services.sorted { $0.key < $1.key }.map { (id: $0.key, state: $0.value) }
        records = Records(services: services)
        livePositions = Self.positions(of: services.map(\.state))
    }

    /// The positions the services' queues and pending transactions read from, ascending, each
    /// once: one array, sorted in place (each kind's runs already ascend), no set.
    private static func positions(of services: [ServiceState]) -> [LogPosition] {
        var runs: [ItemRuns] = []
        for service in services { runs += [service.queued] + service.pending.map(\.items) }
        var positions: [LogPosition] = []
        positions.reserveCapacity(runs.reduce(0) { total, runs in ItemKind.allCases.reduce(total) { $0 + runs[$1].count } })
        for itemRuns in runs {
            for kind in ItemKind.allCases { positions += itemRuns[kind].lazy.map(\.position) }
        }
        positions.sort()
        var unique = 0
        for index in positions.indices where unique == 0 || positions[index] != positions[unique - 1] {
            positions[unique] = positions[index]
            unique += 1
        }
        positions.removeLast(positions.count - unique)
        assert(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 })
        return positions
    }
}
