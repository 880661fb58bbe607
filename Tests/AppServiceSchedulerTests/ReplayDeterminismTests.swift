import AppServiceScheduler
import AppServiceSchedulerTesting
import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

/// Folding the log gives, at every record boundary, exactly the state the live scheduler had
/// there; a restart from any boundary resends the same ids with the same bodies.
@Suite struct ReplayDeterminismTests {
    final class StateRecorder: Sendable {
        let states = Mutex<[(LogPosition, SchedulerState)]>([])
        func record(_ position: LogPosition, _ state: SchedulerState) {
            states.withLock { $0.append((position, state)) }
        }
    }

    static let services = [ServiceDescriptor(id: "irc", receivesEphemeral: true),
                           ServiceDescriptor(id: "slack", receivesToDevice: true)]

    /// Runs a seeded random workload: enqueues, failures, clock moves, forced retries.
    static func runWorkload(seed: UInt64, harness: SchedulerHarness, scheduler: AppServiceScheduler) async throws {
        var random = SeededRandom(seed: seed)
        var number = 0
        for _ in 0..<Int.random(in: 20...60, using: &random) {
            let service = services.randomElement(using: &random)!
            if Int.random(in: 0..<5, using: &random) == 0 {
                harness.transport.script([.failed(reason: "HTTP 500")], for: service.id)
            }
            switch Int.random(in: 0..<9, using: &random) {
            case 0..<6:
                var batch = EventBatch(events: (0..<Int.random(in: 0...3, using: &random)).map { _ in number += 1; return event(number) })
                if service.receivesEphemeral, Bool.random(using: &random) { number += 1; batch.ephemeral.append(event(number)) }
                if service.receivesToDevice, Bool.random(using: &random) { number += 1; batch.toDevice.append(event(number)) }
                if batch.isEmpty { number += 1; batch.events.append(event(number)) }
                _ = try await scheduler.enqueue(batch, for: service.id)
            case 6..<8:
                harness.clock.advance(by: .seconds(Int64.random(in: 1...20, using: &random)))
            default:
                try await scheduler.forceRetry(service.id)
            }
        }
    }

    @Test(arguments: 0..<12)
    func replayedStateEqualsLiveStateAtEveryRecord(seed: UInt64) async throws {
        let live = StateRecorder()
        let harness = SchedulerHarness(services: Self.services, limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2),
                                       onRecordApplied: live.record)
        let scheduler = try await harness.open()
        try await Self.runWorkload(seed: seed, harness: harness, scheduler: scheduler)
        try await scheduler.close()

        let liveStates = live.states.withLock { $0 }
        let records = try harness.records()
        #expect(records.count == liveStates.count, "seed \(seed)")
        var replayed = SchedulerState()
        for ((position, record), (livePosition, liveState)) in zip(records, liveStates) {
            try replayed.apply(record, at: position)
            #expect(position == livePosition && replayed == liveState, "seed \(seed): state differs after record \(position)")
        }
        let reopened = StateRecorder()
        var configuration = harness.configuration
        configuration.onRecordApplied = reopened.record
        let again = try await AppServiceScheduler.open(directory: harness.directory, services: [], transport: harness.transport,
                                                       clock: harness.clock, configuration: configuration)
        #expect(await again.snapshot == replayed, "seed \(seed)")
        try await again.close()
    }

    @Test(arguments: 0..<8)
    func restartAtAnyBoundaryResendsTheSameIdsAndBodies(seed: UInt64) async throws {
        let harness = SchedulerHarness(services: Self.services, limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2))
        let scheduler = try await harness.open()
        try await Self.runWorkload(seed: seed, harness: harness, scheduler: scheduler)
        try await scheduler.close()
        let records = try harness.records()
        var random = SeededRandom(seed: seed ^ 0xABCD)
        for _ in 0..<3 {
            let boundary = Int.random(in: 1...records.count, using: &random)
            try await Self.restart(from: Array(records.prefix(boundary)), harness: harness, seed: seed)
        }
    }

    /// Writes `records` to a new log, opens a scheduler on it with a delivering transport, and
    /// checks that every transaction pending at the boundary goes out with its id and body.
    static func restart(from records: [(LogPosition, SchedulerRecord)], harness: SchedulerHarness, seed: UInt64) async throws {
        var boundaryState = SchedulerState()
        for (position, record) in records { try boundaryState.apply(record, at: position) }
        let copy = SchedulerHarness(services: services, limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2))
        let log = try SegmentLog.open(directory: copy.directory, configuration: copy.configuration.log)
        _ = try await log.append(contentsOf: records.map { $0.1.logEntry })
        try await log.close()

        let clock = ManualClock(start: harness.clock.now)
        let transport = ScriptedTransport()
        var configuration = copy.configuration
        configuration.onRecordApplied = nil
        let scheduler = try await AppServiceScheduler.open(directory: copy.directory, services: services,
                                                           transport: transport, clock: clock, configuration: configuration)
        let watcher = await EventWatcher.watching(scheduler)
        clock.advance(by: .seconds(600))
        for (id, service) in boundaryState.services {
            for transaction in service.pending {
                try await watcher.occurred(.completed(service: id, transaction: transaction.id))
                let bodies = Set(transport.attempts.filter { $0.service == id && $0.id == transaction.id }.map(\.body))
                let items = Self.items(transaction.items, in: records)
                #expect(bodies == [transaction.body(with: items)], "seed \(seed), boundary \(records.count): \(id) transaction \(transaction.id)")
            }
            if !service.queued.isEmpty {
                try await watcher.occurred(.completed(service: id, transaction: service.nextTransactionID))
            }
        }
        try await scheduler.close()
    }

    /// The items `runs` point to, taken from the enqueued records themselves.
    static func items(_ runs: ItemRuns, in records: [(LogPosition, SchedulerRecord)]) -> EventBatch {
        let enqueued = Dictionary(uniqueKeysWithValues: records.compactMap { position, record -> (LogPosition, EventBatch)? in
            if case .enqueued(_, let items, _) = record { (position, items) } else { nil }
        })
        var items = EventBatch()
        for kind in ItemKind.allCases {
            for run in runs[kind] {
                items[kind].append(contentsOf: Array(enqueued[run.position]![kind]).dropFirst(Int(run.first)).prefix(Int(run.count)))
            }
        }
        return items
    }
}
