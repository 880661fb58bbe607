import Foundation
import SegmentLog

/// A durable scheduler that delivers events to application services in numbered
/// transactions, as Synapse does, with every decision a record in a ``RecordStore`` (by default
/// the embedded ``SegmentLog``).
///
/// Per service, at most one transaction is in flight; items that arrive meanwhile form the
/// next one. A failed send marks the service DOWN and the recoverer retries the oldest pending
/// transaction with exponential backoff until nothing is pending, then marks it UP.
///
/// ```swift
/// let scheduler = try await AppServiceScheduler.open(
///     directory: "/var/lib/asched",
///     services: [ServiceDescriptor(id: "bridge", receivesEphemeral: true)],
///     transport: myTransport, clock: SystemClock())
/// let position = try await scheduler.enqueue(EventBatch(events: [eventJSON]), for: "bridge")
/// ```
public actor AppServiceScheduler {
    let log: any RecordStore
    var services: [String: ServiceDescriptor]
    let transport: any Transport
    let clock: any SchedulerClock
    let configuration: SchedulerConfiguration
    var state: SchedulerState
    var sends = SendsInFlight()
    var recoverer = Recoverer()
    var itemReader: ItemReader
    /// The body of each service's oldest pending transaction once built, so retries neither
    /// read the log again nor could differ.
    var bodies: [String: (id: UInt64, body: [UInt8])] = [:]
    private var observers: [UUID: AsyncStream<SchedulerEvent>.Continuation] = [:]
    /// Why the scheduler stopped taking work; set once, by ``stop(because:)`` or ``close()``.
    private(set) var failure: SchedulerError?
    /// Whether a compaction is running, and the log's segment count when the last one started.
    private var compacting = false
    /// A backlog was delivered while a compaction ran: one more is owed once it ends.
    private var compactionOwedAfterDrain = false
    /// A background compaction is started and has not begun yet, so a second is not started beside it.
    private var compactionScheduled = false
    private var segmentsAtLastCompaction = 0
    /// The device's free space when last asked, so an enqueue costs no `statvfs` while there is
    /// plenty.
    private var lastFreeSpace: (at: SchedulerInstant, bytes: Int)?
    /// Services that came back UP with a backlog: once one has sent it all, the log is compacted
    /// without waiting for more segments, so the space the backlog took comes back at once.
    var drainingBacklogs: Set<String> = []
    /// Relayed transactions appended and not yet durable, so a retry of one is answered only once it is.
    var relaysAwaitingDurability: [RelayKey: any DurableAppend] = [:]

    private init(log: any RecordStore, services: [ServiceDescriptor], transport: any Transport, clock: any SchedulerClock,
                 configuration: SchedulerConfiguration, state: SchedulerState) {
        self.log = log
        self.services = Dictionary(uniqueKeysWithValues: services.map { ($0.id, $0) })
        self.transport = transport
        self.clock = clock
        self.configuration = configuration
        self.state = state
        self.itemReader = ItemReader(log: log, windowBytesMax: configuration.readAheadBytesMax)
    }

    /// Opens the log in `directory`, replays it, and resumes: a transaction that was being
    /// sent is sent again (same id, same body) and DOWN services get their recoverer, due when
    /// the log says. Services in the log but not in `services` keep their state and are not sent to.
    public static func open(directory: String, services: [ServiceDescriptor], transport: any Transport,
                            clock: any SchedulerClock,
                            configuration: SchedulerConfiguration = SchedulerConfiguration()) async throws -> AppServiceScheduler {
        precondition(Set(services.map(\.id)).count == services.count, "service ids must be unique")
        // The log's own check on open is the replay: the log is read once.
        var state = SchedulerState()
        let log = try SegmentLog.open(directory: directory, configuration: configuration.log) { record in
            try state.apply(record)
            configuration.onRecordApplied?(record.position, state)
        }
        return await resuming(log, state: state, services: services, transport: transport, clock: clock, configuration: configuration)
    }

    /// Replays `store` (``RecordStore/replay(_:)``) and resumes on it, as
    /// ``open(directory:services:transport:clock:configuration:)`` does on the embedded log: the
    /// way to run the scheduler on another store. `configuration.log` is not used; the store
    /// was configured when it was opened.
    public static func open(store: any RecordStore, services: [ServiceDescriptor], transport: any Transport,
                            clock: any SchedulerClock,
                            configuration: SchedulerConfiguration = SchedulerConfiguration()) async throws -> AppServiceScheduler {
        precondition(Set(services.map(\.id)).count == services.count, "service ids must be unique")
        var state = SchedulerState()
        try store.replay { record in
            try state.apply(record)
            configuration.onRecordApplied?(record.position, state)
        }
        return await resuming(store, state: state, services: services, transport: transport, clock: clock, configuration: configuration)
    }

    private static func resuming(_ store: any RecordStore, state: SchedulerState, services: [ServiceDescriptor],
                                 transport: any Transport, clock: any SchedulerClock,
                                 configuration: SchedulerConfiguration) async -> AppServiceScheduler {
        let scheduler = AppServiceScheduler(log: store, services: services, transport: transport, clock: clock,
                                            configuration: configuration, state: state)
        await scheduler.resume()
        return scheduler
    }

    private func resume() {
        resume(Set(services.keys))
    }

    /// Starts delivering to `ids`: a DOWN service gets its recoverer, due when the log says; an UP
    /// one sends what is pending or queued.
    private func resume(_ ids: Set<String>) {
        // In id order, so a simulation's seed resumes services the same way every time.
        for (id, service) in state.services.sorted(by: { $0.key < $1.key }) where ids.contains(id) && services[id] != nil {
            if service.status == .down {
                scheduleRetry(id, due: service.retryDue ?? clock.now)
            } else {
                pump(id)
            }
        }
    }

    // MARK: - Public API

    /// Queues `items` for `service`; returns the position of their record once it is durable
    /// (per the log's sync policy). Each item must be a JSON object.
    public func enqueue(_ items: EventBatch, for service: String) async throws -> LogPosition {
        try await enqueue([service: items])
    }

    /// Queues items for several services in one write: every batch is checked first (one bad
    /// batch writes nothing), then all records are appended together and awaited once. Returns
    /// the position of the last record once all are durable.
    public func enqueue(_ batches: [String: EventBatch]) async throws -> LogPosition {
        try await enqueue(batches, itemsAreJSONObjects: false)
    }

    /// ``enqueue(_:)`` for a caller that built every item by serializing a JSON object (the
    /// HTTP API), so parsing each item again to check it would be work done twice.
    package func enqueue(_ batches: [String: EventBatch], itemsAreJSONObjects: Bool) async throws -> LogPosition {
        try checkOpen()
        precondition(!batches.isEmpty, "enqueue needs at least one service")
        let ordered = batches.sorted { $0.key < $1.key }
        for (service, items) in ordered {
            guard let descriptor = services[service] else { throw SchedulerError.unknownService(service) }
            try Self.validate(items, for: descriptor, parsingItems: !itemsAreJSONObjects)
        }
        try checkRoom()
        let now = clock.now
        let pending = try record(ordered.map { .enqueued(service: $0.key, items: $0.value, at: now) })
        for (offset, (_, items)) in ordered.enumerated() {
            itemReader.remember(items, at: LogPosition(rawValue: pending.positions.lowerBound.rawValue + UInt64(offset)))
        }
        for (service, _) in ordered { pump(service) }
        try await waitDurable(pending)
        return pending.positions.upperBound
    }

    /// Replaces the configured services (a reloaded configuration): a new service starts
    /// receiving, a changed one's flags apply to its next new transaction (pending ones stay
    /// frozen), and a removed one is no longer sent to or retried; its state stays in the log (an
    /// attempt under way finishes and is recorded). Services keep their ids and state when they come back.
    public func reconfigure(services descriptors: [ServiceDescriptor]) throws {
        try checkOpen()
        precondition(Set(descriptors.map(\.id)).count == descriptors.count, "service ids must be unique")
        let before = Set(services.keys)
        services = Dictionary(uniqueKeysWithValues: descriptors.map { ($0.id, $0) })
        for removed in before.subtracting(services.keys) {
            recoverer.cancel(removed)
            drainingBacklogs.remove(removed)
        }
        resume(Set(services.keys).subtracting(before))
    }

    /// Drops every queued and pending item of `service`, which must not be configured (retire a
    /// bridge: remove it from the configuration first), with a `servicePurged` record, so that
    /// compaction can reclaim the records holding them. Its next transaction id, and its relay
    /// window, are kept: if it comes back, no id is reused. Returns what was dropped, nil when the
    /// log has no state for it.
    public func purge(_ service: String) async throws -> ServicePurge? {
        try checkOpen()
        guard services[service] == nil else { throw SchedulerError.purgeOfConfiguredService(service) }
        // Its outcome would be recorded for a transaction the purge dropped.
        guard !sends.contains(service) else { throw SchedulerError.sendUnderWay(service) }
        guard let current = state.services[service] else { return nil }
        let purge = ServicePurge(of: current)
        try await waitDurable(try record([.servicePurged(service: service, at: clock.now)]))
        return purge
    }

    /// Retries a DOWN service now, cancelling its backoff timer. Does nothing for an UP service
    /// or while an attempt is under way.
    public func forceRetry(_ service: String) throws {
        try checkOpen()
        guard services[service] != nil else { throw SchedulerError.unknownService(service) }
        guard state.services[service]?.status == .down, !sends.contains(service) else { return }
        _ = try record([.forcedRetry(service: service)])
        recoverer.cancel(service)
        retryNow(service)
    }

    /// The current state: a snapshot, including records not yet durable.
    public var snapshot: SchedulerState { state }

    /// The items `runs` of a service's state point to (its queue, or a pending transaction's
    /// items), read back from the log. Runs from an older ``snapshot`` may name records that
    /// have since been delivered and compacted away; ``queuedAndPendingItems()`` reads the
    /// current state's.
    public func items(_ runs: ItemRuns) throws -> EventBatch {
        try itemReader.items(runs)
    }

    /// Every service's queued items and each pending transaction's, read back from the log in
    /// one step with the state that points to them (queue first, then pending, oldest first).
    public func queuedAndPendingItems() throws -> [String: [EventBatch]] {
        try state.services.mapValues { service in
            try ([service.queued] + service.pending.map(\.items)).map { try itemReader.items($0) }
        }
    }

    /// Why the scheduler stopped taking work (its log failed, or it was closed); nil while it runs.
    public var failureDescription: String? { failure?.description }

    /// The configured services, by id.
    public var descriptors: [String: ServiceDescriptor] { services }

    /// A stream of what happens from now on; it ends when the scheduler closes.
    public func events() -> AsyncStream<SchedulerEvent> {
        let (stream, continuation) = AsyncStream<SchedulerEvent>.makeStream()
        let id = UUID()
        observers[id] = continuation
        let executor = configuration.taskExecutor
        continuation.onTermination = { _ in Task(executorPreference: executor) { await self.removeObserver(id) } }
        return stream
    }

    /// Compacts the log now: appends a checkpoint of every service, then drops from the sealed
    /// segments before it every record the checkpoint no longer needs (completed transactions,
    /// and every decision it summarizes). Queued and pending items stay where they are; a
    /// segment is rewritten only when little of it is still needed. Returns nil when no sealed
    /// segment lay before the checkpoint, or another compaction is running. Appends continue meanwhile.
    @discardableResult
    public func compact() async throws -> CompactionReport? {
        try checkOpen()
        guard !compacting else { return nil }
        compacting = true
        defer {
            compacting = false
            if compactionOwedAfterDrain {
                compactionOwedAfterDrain = false
                compactIfDue(afterDrain: true)
            }
        }
        // Sealed first, the checkpoint starts a segment: every record before it lies in a
        // sealed segment that this compaction may drop or rewrite.
        try await log.sealActiveSegment()
        segmentsAtLastCompaction = log.statistics.segmentsCreated
        let floor: LogPosition
        let live: [LogPosition]
        let appended: any DurableAppend
        do {
            // Scoped, so the state the checkpoint was taken of is released before the long wait.
            let checkpoint = SchedulerCheckpoint(of: state)
            guard checkpoint.records.count > 0 else { return nil }
            emit(.compactionStarted)
            // Appended one by one with no await between them, so nothing comes between them, and
            // only one chunk of a long queue is copied and encoded at a time.
            var records = checkpoint.records.makeIterator()
            let first = try record([records.next()!])
            var last = first
            while let next = records.next() { last = try record([next]) }
            (floor, live, appended) = (first.positions.lowerBound, checkpoint.livePositions, last)
        }
        try await waitDurable(appended)
        // Records before the checkpoint may be dropped only once it is on disk, whatever the policy.
        if log.syncPolicy != .always { try await log.synchronize() }
        guard let report = try await log.compact(before: floor, keeping: live) else { return nil }
        emit(.compacted(report))
        return report
    }

    /// Starts a compaction in the background when the policy says it is due: enough segments
    /// sealed since the last one, or (`afterDrain`) a backlog delivered while the log spans more
    /// than a segment. A drain seals few segments or none (its records are small), so it does not
    /// wait for one: the backlog's own segments are what the compaction frees. One due during
    /// another compaction runs after it.
    func compactIfDue(afterDrain: Bool = false) {
        guard let threshold = configuration.compactAfterSealedSegments, failure == nil else { return }
        let sealed = log.statistics.segmentsCreated - segmentsAtLastCompaction
        let spansSegments = sealed > 0 || log.statistics.logBytes > configuration.log.segmentSizeBytes
        guard sealed >= threshold || afterDrain && spansSegments else { return }
        guard !compacting && !compactionScheduled else {
            if afterDrain { compactionOwedAfterDrain = true }
            return
        }
        compactionScheduled = true
        Task(executorPreference: configuration.taskExecutor) { await self.runScheduledCompaction() }
    }

    private func runScheduledCompaction() async {
        compactionScheduled = false
        do {
            _ = try await compact()
        } catch {
            emit(.compactionFailed(reason: "\(error)"))
        }
    }

    /// Statistics of the underlying log.
    public var logStatistics: LogStatistics { log.statistics }

    /// Stops sending and retrying, abandons sends under way (they are resent after reopening),
    /// and closes the log after syncing what was appended.
    public func close() async throws {
        guard failure != .closed else { return }
        failure = failure ?? .closed
        recoverer.cancelAll()
        for observer in observers.values { observer.finish() }
        observers = [:]
        try await log.close()
    }

    // MARK: - Records

    /// Appends `records` and applies each to the state, in log order, before any await; the
    /// caller awaits durability before acting on the outside world.
    ///
    /// Throws ``SchedulerError/batchTooLarge(service:bytes:max:)``, naming the service whose
    /// record is over the log's limit, having written and changed nothing. Any other refusal of
    /// the log stops the scheduler (see ``stop(because:)``) before it is thrown.
    func record(_ records: [SchedulerRecord]) throws -> any DurableAppend {
        let entries = records.map(\.logEntry)
        if let oversized = entries.firstIndex(where: { $0.payload.count > log.recordBytesMax }) {
            // Bad input, not a broken log: nothing was written, and the scheduler goes on.
            throw SchedulerError.batchTooLarge(service: records[oversized].service,
                                               bytes: entries[oversized].payload.count, max: log.recordBytesMax)
        }
        let pending: any DurableAppend
        do {
            pending = try log.beginAppend(contentsOf: entries)
        } catch {
            stop(because: error)
            throw failure!
        }
        let first = pending.positions.lowerBound.rawValue
        for (offset, record) in records.enumerated() {
            let position = LogPosition(rawValue: first + UInt64(offset))
            do {
                try state.apply(record, at: position)
            } catch {
                preconditionFailure("the scheduler wrote a record its own state rejects at \(position): \(error)")
            }
            configuration.onRecordApplied?(position, state)
        }
        compactIfDue()
        return pending
    }

    /// Records a decision of the scheduler's own (not the caller's input). Returns nil when the
    /// log refused it: the scheduler has then stopped, and the caller has nothing left to do.
    func decide(_ records: [SchedulerRecord]) -> (any DurableAppend)? {
        do {
            return try record(records)
        } catch {
            // Only input can be too large; a decision that is means the scheduler cannot go on.
            stop(because: error)
            return nil
        }
    }

    /// Refuses new items while the log is over its budget or its device nearly full; the
    /// scheduler's own records (deliveries, compaction) still go in.
    func checkRoom() throws {
        let logBytes = log.statistics.logBytes
        if let budget = configuration.logBytesMax, logBytes >= budget {
            throw SchedulerError.logBudgetExceeded(logBytes: logBytes, budgetBytes: budget)
        }
        let now = clock.now
        let available: Int
        if let last = lastFreeSpace, last.at.duration(to: now) < .seconds(1),
           last.bytes / 2 >= configuration.availableBytesMin {
            available = last.bytes
        } else {
            // A device that cannot say (statvfs failed) is not refused here: the writer reports real trouble.
            available = (try? log.availableBytes()) ?? .max
            lastFreeSpace = (now, available)
        }
        if available < configuration.availableBytesMin {
            throw SchedulerError.diskSpaceLow(availableBytes: available, floorBytes: configuration.availableBytesMin,
                                              directory: log.location)
        }
    }

    func waitDurable(_ pending: any DurableAppend) async throws {
        do {
            try await pending.durable()
        } catch {
            stop(because: error)
            throw failure!
        }
    }

    /// Stops taking work because the log failed: nothing more is recorded or sent.
    func stop(because error: any Error) {
        guard failure == nil else { return }
        failure = .storageFailed("\(error)")
        recoverer.cancelAll()
    }

    func checkOpen() throws {
        if let failure { throw failure }
    }

    func emit(_ event: SchedulerEvent) {
        for observer in observers.values { observer.yield(event) }
    }

    private func removeObserver(_ id: UUID) {
        observers[id] = nil
    }

    private static func validate(_ items: EventBatch, for service: ServiceDescriptor, parsingItems: Bool) throws {
        guard !items.isEmpty else { throw SchedulerError.emptyBatch(service: service.id) }
        if !items.ephemeral.isEmpty && !service.receivesEphemeral {
            throw SchedulerError.kindNotAccepted(service: service.id, kind: "ephemeral events")
        }
        if !items.toDevice.isEmpty && !service.receivesToDevice {
            throw SchedulerError.kindNotAccepted(service: service.id, kind: "to-device messages")
        }
        if !items.deviceData.isEmpty && !service.receivesDeviceData {
            throw SchedulerError.kindNotAccepted(service: service.id, kind: "MSC3202 device data")
        }
        if parsingItems { try checkJSONObjects(items, service: service.id) }
    }

    /// Throws ``SchedulerError/invalidItem(service:kind:index:reason:)`` for the first item that is not a JSON object.
    static func checkJSONObjects(_ items: EventBatch, service: String) throws {
        for (kind, name) in [(ItemKind.events, "events"), (.ephemeral, "ephemeral"), (.toDevice, "to_device"),
                             (.deviceData, "device_data")] {
            for (index, item) in items[kind].enumerated() {
                let parsed: Any
                do {
                    parsed = try JSONSerialization.jsonObject(with: Data(item))
                } catch {
                    throw SchedulerError.invalidItem(service: service, kind: name, index: index,
                                                     reason: "\(error.localizedDescription)")
                }
                guard parsed is [String: Any] else {
                    throw SchedulerError.invalidItem(service: service, kind: name, index: index,
                                                     reason: "it is JSON but not an object")
                }
            }
        }
    }
}
