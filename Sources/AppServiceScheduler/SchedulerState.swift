import SegmentLog

/// Everything the scheduler knows, per service: the fold of its log's records.
///
/// The live scheduler changes its state only by appending a record and applying it here, and
/// a replay applies the same records in the same order, so both reach the same state.
///
/// ```swift
/// var state = SchedulerState()
/// try state.apply(.enqueued(service: "bridge", items: EventBatch(events: [Array("{}".utf8)]), at: .epoch),
///                 at: LogPosition(rawValue: 1))
/// state.services["bridge"]?.queued.count(.events)   // 1
/// ```
public struct SchedulerState: Sendable, Equatable {
    /// The services, by id.
    public internal(set) var services: [String: ServiceState] = [:]
    /// A checkpoint whose `queueContinued` records are not all applied yet: it replaces its
    /// service's state only once complete. Any other record before that means the log was cut
    /// inside it (a crash) and went on: the checkpoint is dropped, and the state before it stands,
    /// as compaction drops nothing until a whole checkpoint is durable.
    private var staged: StagedCheckpoint?

    /// An empty state: what a new log folds to.
    public init() {}

    /// Equal services: a checkpoint being folded is not yet part of the state, whether or not
    /// its last records are still to come.
    public static func == (lhs: SchedulerState, rhs: SchedulerState) -> Bool {
        lhs.services == rhs.services
    }

    /// Applies the record stored at `position`; throws when it does not fit the state (a damaged
    /// or foreign log).
    public mutating func apply(_ record: SchedulerRecord, at position: LogPosition) throws(StateTransitionError) {
        let id = record.service
        if let checkpoint = staged {
            staged = nil
            if case .queueContinued = record, id == checkpoint.service {
                var continued = checkpoint
                try continued.state.apply(record, at: position)
                continued.remaining -= 1
                if continued.remaining == 0 { services[id] = continued.state } else { staged = continued }
                return
            }
        }
        if case .checkpoint(_, let snapshot, let continued) = record {
            if continued == 0 {
                services[id] = snapshot.referring(to: position)
            } else {
                staged = StagedCheckpoint(service: id, state: snapshot.referring(to: position), remaining: continued)
            }
            return
        }
        // Changed in place: a copy out and back would copy the whole queue on every record.
        try services[id, default: ServiceState()].apply(record, at: position)
    }
}

extension SchedulerState {
    /// Decodes a record read from the log and applies it; throws
    /// ``SchedulerError/invalidRecord(position:reason:)`` naming its position, segment and offset.
    /// An `enqueued` or `relayed` record's items are counted, not copied (a replay folds a
    /// backlog without allocating per item).
    public mutating func apply(_ stored: LogRecord) throws(SchedulerError) {
        do {
            if let counted = try QueuedItemCounts.decode(typeCode: stored.type, payload: stored.payload) {
                return services[counted.service, default: ServiceState()].applyQueued(counted, at: stored.position)
            }
            try apply(try SchedulerRecord.decode(typeCode: stored.type, payload: stored.payload), at: stored.position)
        } catch {
            throw .invalidRecord(position: stored.position,
                                 reason: "\(error) (\(stored.location.segmentFileName) at offset \(stored.location.offset))")
        }
    }
}

/// A checkpoint waiting for the records that continue its queue.
struct StagedCheckpoint: Sendable, Equatable {
    let service: String
    var state: ServiceState
    /// `queueContinued` records still to come.
    var remaining: Int
}

/// Why a record does not fit the state it is applied to.
public struct StateTransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What did not fit.
    public let reason: String

    public var description: String { reason }
}

extension ServiceState {
    mutating func apply(_ record: SchedulerRecord, at position: LogPosition) throws(StateTransitionError) {
        switch record {
        case .enqueued(_, let items, let time):
            queued.append(recordAt: position, counts: ItemKind.allCases.map(items.count), enqueuedAt: time)
        case .relayed(_, let transaction, let eventIDs, let items, let time):
            queued.append(recordAt: position, counts: ItemKind.allCases.map(items.count), enqueuedAt: time)
            relayWindow.remember(transaction, eventIDs)
        case .transactionCreated(_, let id, let events, let ephemeral, let toDevice, let deviceData, let fields):
            let taking: [ItemKind: Int] = [.events: events, .ephemeral: ephemeral, .toDevice: toDevice, .deviceData: deviceData]
            try require(id == nextTransactionID, "transaction \(id) created, expected id \(nextTransactionID)")
            try require(ItemKind.allCases.allSatisfy { taking[$0]! <= queued.count($0) },
                        "transaction \(id) takes \(ItemKind.allCases.map { "\(taking[$0]!)" }.joined(separator: "/")) items, only "
                        + "\(ItemKind.allCases.map { "\(queued.count($0))" }.joined(separator: "/")) queued")
            try require(taking.values.reduce(0, +) > 0, "transaction \(id) is empty")
            let items = queued.removeFirst(taking)
            pending.append(Transaction(id: id, items: items, fields: fields, attempts: 0))
            nextTransactionID += 1
        case .sendStarted(_, let id, let attempt):
            try require(pending.first?.id == id, "send of \(id) started, but the oldest pending is \(describe(pending.first?.id))")
            try require(inFlight == nil || inFlight == id, "send of \(id) started while \(describe(inFlight)) is in flight")
            try require(attempt == pending[0].attempts + 1, "attempt \(attempt) of \(id) follows attempt \(pending[0].attempts)")
            pending[0].attempts = attempt
            inFlight = id
        case .sendSucceeded(_, let id), .sendFailed(_, let id, _):
            try require(inFlight == id, "outcome for \(id), but \(describe(inFlight)) is in flight")
            inFlight = nil
        case .transactionCompleted(_, let id):
            try require(pending.first?.id == id, "transaction \(id) completed, but the oldest pending is \(describe(pending.first?.id))")
            try require(inFlight == nil, "transaction \(id) completed while its send is in flight")
            pending.removeFirst()
            lastCompletedTransactionID = id
            backoffCounter = 0
            retryDue = nil
        case .serviceDown:
            try require(status == .up, "service marked DOWN twice")
            status = .down
        case .serviceUp:
            try require(status == .down, "service marked UP twice")
            try require(pending.isEmpty, "service marked UP with \(pending.count) transactions pending")
            status = .up
            backoffCounter = 0
            retryDue = nil
        case .backoffScheduled(_, let counter, _, let due):
            try require(status == .down, "backoff scheduled for an UP service")
            try require(counter == backoffCounter + 1, "backoff counter \(counter) follows \(backoffCounter)")
            backoffCounter = counter
            retryDue = due
        case .forcedRetry:
            try require(status == .down, "forced retry of an UP service")
            retryDue = nil
        case .queueContinued(_, let runs):
            for kind in ItemKind.allCases {
                for run in runs[kind] {
                    try require(queued[kind].last.map { $0.position <= run.position } ?? true,
                                "queue continued with \(kind) at position \(run.position), before its last run")
                    queued.append(run, kind)
                }
            }
        case .servicePurged(_, let time):
            purgedAt = time
            queued = ItemRuns()
            pending = []
            inFlight = nil
            status = .up
            backoffCounter = 0
            retryDue = nil
        case .checkpoint:
            preconditionFailure("a checkpoint replaces the service's state")
        }
    }

    private func require(_ condition: Bool, _ reason: @autoclosure () -> String) throws(StateTransitionError) {
        if !condition { throw StateTransitionError(reason: reason()) }
    }

    private func describe(_ id: UInt64?) -> String {
        id.map { "transaction \($0)" } ?? "none"
    }
}
