import AppServiceScheduler
import SegmentLog
import SegmentLogTesting

/// Everything a ``CrashSimulation`` run owns: the disk, the clock, the services and what was
/// acknowledged.
final class SimulatedWorld: @unchecked Sendable {
    // @unchecked: used from the simulation's one task only.
    let disk = SimulatedFileSystem()
    let clock = ManualClock()
    /// Runs the log's group commits, segment preparation and compactions inline, in order, on a
    /// virtual clock: no log thread's timing enters a run.
    let logExecutor = SimulatedLogExecutor()
    /// Runs every task of the run, the scheduler's included, on one thread in a fixed order.
    let executor = SerialTaskExecutor()
    let services: SimulatedApplicationService
    let configuration: SchedulerConfiguration
    private(set) var acknowledged: [String: [Int]] = [:]
    private var number = 0
    /// The relayed transaction the homeserver got no answer for: it is retried before any newer one.
    private var unansweredRelay: Int?
    /// Relayed transactions answered `200 {}`, by number.
    private var answeredRelays: [Int] = []

    init(seed: UInt64, syncPolicy: SyncPolicy) {
        services = SimulatedApplicationService(disk: disk, seed: seed ^ 0x5EED)
        var configuration = SchedulerConfiguration()
        configuration.limits = TransactionLimits(eventsMax: 4, ephemeralMax: 3, toDeviceMax: 1)
        configuration.backoff = BackoffPolicy(initial: .seconds(1), maximum: .seconds(8))
        configuration.compactAfterSealedSegments = 2
        // No read-ahead window: every body, and every check below, reads the items from the log.
        configuration.readAheadBytesMax = 0
        configuration.log.segmentSizeBytes = 1024
        configuration.log.preallocation = .allocate
        configuration.log.syncPolicy = syncPolicy
        configuration.log.executor = logExecutor
        configuration.taskExecutor = executor
        self.configuration = configuration
    }

    /// Opens the scheduler as a new process would: through a view of the disk that dies with
    /// the next crash.
    func open() async throws -> AppServiceScheduler {
        var configuration = configuration
        configuration.log.fileSystem = disk.processView()
        return try await AppServiceScheduler.open(directory: "/data", services: CrashSimulation.services,
                                                  transport: services.transport(), clock: clock, configuration: configuration)
    }

    /// Starts a new lifetime after a crash, and checks every acknowledged item is still
    /// delivered or in the reopened state.
    func reopen(after step: Int, seed: UInt64) async throws -> AppServiceScheduler {
        services.restart()
        let scheduler: AppServiceScheduler
        do {
            scheduler = try await open()
        } catch {
            throw CrashSimulation.Failure(seed: seed, step: step, message: "the log does not reopen after a crash: \(error)")
        }
        let stored: [String: [EventBatch]]
        do {
            stored = try await scheduler.queuedAndPendingItems()
        } catch {
            throw CrashSimulation.Failure(seed: seed, step: step, message: "items unreadable after a crash: \(error)")
        }
        let delivered = services.received.filter(\.delivered)
        for (key, numbers) in acknowledged {
            let service = String(key.split(separator: "/")[0])
            let ephemeral = key.hasSuffix("/ephemeral")
            var present = Set(delivered.filter { $0.transaction.service == service }
                .flatMap { DeliveryCheck.numbers(in: $0.transaction.body, field: ephemeral ? "ephemeral" : "events") })
            for batch in stored[service] ?? [] {
                present.formUnion((ephemeral ? batch.ephemeral : batch.events).compactMap(DeliveryCheck.number(of:)))
            }
            let lost = Set(numbers).subtracting(present)
            guard lost.isEmpty || configuration.log.syncPolicy != .always else {
                throw CrashSimulation.Failure(seed: seed, step: step,
                                              message: "acknowledged \(key) items lost by a crash: \(lost.sorted())")
            }
        }
        return scheduler
    }

    func enqueue(to service: String, ephemeral: Bool, on scheduler: AppServiceScheduler) async {
        number += 1
        let item = Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(number)}}".utf8)
        let batch = ephemeral && service == "irc" ? EventBatch(ephemeral: [item]) : EventBatch(events: [item])
        guard (try? await scheduler.enqueue(batch, for: service)) != nil else { return }
        acknowledged[service + (batch.ephemeral.isEmpty ? "" : "/ephemeral"), default: []].append(number)
    }

    /// A homeserver's push through the relay to ``CrashSimulation/relayedService``: first the
    /// transaction it got no answer for, if any (a homeserver retries the oldest first), then a new one.
    func relay(on scheduler: AppServiceScheduler) async {
        if let unanswered = unansweredRelay {
            guard await push(unanswered, on: scheduler) != nil else { return }
            unansweredRelay = nil
        }
        number += 1
        if await push(number, on: scheduler) == nil { unansweredRelay = number }
    }

    /// A homeserver retrying a transaction it had an answer for (a lost `200`): the retry must
    /// write nothing. Only under `always`: under the other policies an answered transaction may
    /// be lost by a crash, and its retry then rightly stored again, after newer ones.
    func retryAnsweredRelay(on scheduler: AppServiceScheduler, using random: inout SeededRandom,
                            seed: UInt64, step: Int) async throws {
        guard configuration.log.syncPolicy == .always, unansweredRelay == nil,
              let relayed = answeredRelays.randomElement(using: &random),
              let outcome = try? await scheduler.relay(Self.relayedTransaction(relayed, age: step), for: CrashSimulation.relayedService)
        else { return }
        if outcome != .duplicate {
            throw CrashSimulation.Failure(seed: seed, step: step, message: "a retry of answered relayed transaction r\(relayed) was stored again: \(outcome)")
        }
    }

    private func push(_ relayed: Int, on scheduler: AppServiceScheduler) async -> RelayOutcome? {
        guard let outcome = try? await scheduler.relay(Self.relayedTransaction(relayed, age: 0), for: CrashSimulation.relayedService)
        else { return nil }
        if outcome != .duplicate { acknowledged[CrashSimulation.relayedService, default: []].append(relayed) }
        answeredRelays.append(relayed)
        return outcome
    }

    /// Relayed transaction `r<n>` with one event; `age` changes its bytes as a homeserver's retry does.
    private static func relayedTransaction(_ relayed: Int, age: Int) -> RelayedTransaction {
        let item = Array("{\"event_id\":\"$\(relayed)\",\"content\":{\"n\":\(relayed)},\"unsigned\":{\"age\":\(age)}}".utf8)
        return RelayedTransaction(transactionID: "r\(relayed)", eventIDs: ["$\(relayed)"], items: EventBatch(events: [item]))
    }

    /// Moves the scheduler's clock and the log's (which times `interval` syncs) together.
    func advance(by duration: Duration) {
        clock.advance(by: duration)
        logExecutor.advance(by: duration)
    }

    /// Moves time on until every service is UP with nothing pending or queued.
    func drain(_ scheduler: AppServiceScheduler, seed: UInt64, step: Int) async throws {
        let progress = EventCounter(await scheduler.events(), executor: executor)
        for _ in 0..<10_000 {
            // Counted before the state is read: progress made after the count but before the
            // read is then either in the state or still to be counted, never missed.
            let seen = await progress.count
            if await scheduler.snapshot.services.values.allSatisfy({ $0.status == .up && $0.pending.isEmpty && $0.queued.isEmpty }) {
                return
            }
            advance(by: .seconds(10))
            guard await progress.waitForMore(than: seen) else {
                let stopped = await scheduler.failureDescription.map { " (the scheduler stopped: \($0))" } ?? ""
                let state = await scheduler.snapshot
                throw CrashSimulation.Failure(seed: seed, step: step,
                                              message: "draining stalled\(stopped): \(state.services.sorted { $0.key < $1.key })")
            }
        }
        throw CrashSimulation.Failure(seed: seed, step: step, message: "draining did not finish")
    }
}

/// Counts a scheduler's events so a drain can wait for progress, with a real-time bound (10 s)
/// that turns a stall into a failure instead of a hang.
actor EventCounter {
    private(set) var count = 0
    private var waiter: CheckedContinuation<Void, Never>?

    init(_ events: AsyncStream<SchedulerEvent>, executor: any TaskExecutor) {
        Task(executorPreference: executor) { [weak self] in
            for await _ in events { await self?.increment() }
        }
    }

    private func increment() {
        count += 1
        waiter?.resume()
        waiter = nil
    }

    private func timeOut() {
        waiter?.resume()
        waiter = nil
    }

    /// Whether an event beyond `seen` arrives within the bound.
    func waitForMore(than seen: Int) async -> Bool {
        if count > seen { return true }
        await withCheckedContinuation { continuation in
            waiter = continuation
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(10))
                await self?.timeOut()
            }
        }
        return count > seen
    }
}
