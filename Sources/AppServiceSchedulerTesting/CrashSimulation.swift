import AppServiceScheduler
import SegmentLog
import SegmentLogTesting

/// A seeded crash simulation of the whole scheduler: its log and compaction on a simulated
/// disk, services that go DOWN and come back, forced retries, a homeserver pushing through the
/// relay and retrying what it pushed (answered or not), and power failures at random
/// points (between steps, before a random disk operation — mid-write, mid-compaction, between a
/// rename and its directory sync — or at the moment a send reaches a service). After every
/// crash it reopens the log and checks that no acknowledged item was lost; at the end it
/// drains everything and checks the delivery invariants (``DeliveryCheck``).
///
/// The seed fixes the workload, the faults, what each crash keeps and the interleaving: the
/// scheduler's tasks and the simulation's run on one ``SerialTaskExecutor``, and the log's work
/// inline on a `SimulatedLogExecutor` with a virtual clock, so no thread's timing enters a run and
/// a failing seed replays bit for bit (``Report/trace`` is the same on every run of a seed).
/// Across processes, run with `SWIFT_DETERMINISTIC_HASHING=1` so dictionaries iterate alike.
///
/// ```swift
/// let report = try await CrashSimulation(seed: 42, steps: 300).run()
/// print(report)   // "seed 42: 300 steps, 7 crashes, 2 compactions, 412 items acknowledged and delivered"
/// ```
public struct CrashSimulation: Sendable {
    /// An invariant broke; `seed` and `step` replay it.
    public struct Failure: Error, CustomStringConvertible {
        public let seed: UInt64
        public let step: Int
        public let message: String
        public var description: String { "seed \(seed), step \(step): \(message)" }
    }

    /// What a run did.
    public struct Report: Sendable, CustomStringConvertible {
        public let seed: UInt64
        public let steps: Int
        public let crashes: Int
        public let compactions: Int
        public let acknowledged: Int
        /// Every transaction that reached a service, in arrival order: service, id, attempt,
        /// whether it was accepted, and its body.
        public let trace: [String]
        public var description: String {
            "seed \(seed): \(steps) steps, \(crashes) crashes, \(compactions) compactions, "
                + "\(acknowledged) items acknowledged and delivered"
        }
    }

    static let services = [ServiceDescriptor(id: "irc", receivesEphemeral: true), ServiceDescriptor(id: "slack"),
                           ServiceDescriptor(id: relayedService)]
    /// The service whose items come only through the relay, as a homeserver pushes them.
    static let relayedService = "matrix"

    public let seed: UInt64
    public let steps: Int
    /// The log's sync policy. Under `interval` or `never` a crash may lose acknowledged items
    /// (as documented), so only the other invariants are checked: above all, that no
    /// transaction id ever reaches a service with two different bodies.
    public let syncPolicy: SyncPolicy

    /// A simulation of `steps` random steps from `seed`.
    public init(seed: UInt64, steps: Int, syncPolicy: SyncPolicy = .always) {
        precondition(steps > 0)
        self.seed = seed
        self.steps = steps
        self.syncPolicy = syncPolicy
    }

    /// Runs it; throws ``Failure`` when an invariant breaks.
    public func run() async throws -> Report {
        let world = SimulatedWorld(seed: seed, syncPolicy: syncPolicy)
        defer { world.executor.stop() }
        return try await withTaskExecutorPreference(world.executor) {
            try await run(in: world)
        }
    }

    private func run(in world: SimulatedWorld) async throws -> Report {
        var random = SeededRandom(seed: seed)
        var scheduler = try await world.open()
        var crashesSeen = 0
        var compactions = 0
        for step in 0..<steps {
            if world.disk.crashCount > crashesSeen {
                crashesSeen = world.disk.crashCount
                scheduler = try await world.reopen(after: step, seed: seed)
            }
            let service = Self.services.randomElement(using: &random)!.id
            switch Int.random(in: 0..<20, using: &random) {
            case 0..<11 where service == Self.relayedService: await world.relay(on: scheduler)
            case 0..<11: await world.enqueue(to: service, ephemeral: Bool.random(using: &random), on: scheduler)
            case 11, 12: world.advance(by: .milliseconds(Int64.random(in: 100...20_000, using: &random)))
            case 13: world.services.setDown(service, Bool.random(using: &random))
            case 14: try? await scheduler.forceRetry(service)
            case 15: if (try? await scheduler.compact()) != nil { compactions += 1 }
            case 16: world.disk.inject(.crash(after: Int.random(in: 0...30, using: &random), seed: random.next()))
            case 17: world.services.crash(atSend: Int.random(in: 1...4, using: &random))
            case 18: world.services.crash()
            default: try await world.retryAnsweredRelay(on: scheduler, using: &random, seed: seed, step: step)
            }
            try await Self.expectItemsReadable(on: scheduler, in: world, crashesSeen: crashesSeen, seed: seed, step: step)
        }
        _ = world.disk.disarmFaults()
        // A last crash, so the drain starts from a fresh lifetime with nothing armed.
        world.services.crash()
        scheduler = try await world.reopen(after: steps, seed: seed)
        for service in Self.services { world.services.setDown(service.id, false) }
        try await world.drain(scheduler, seed: seed, step: steps)
        try await scheduler.close()
        let problems = DeliveryCheck.violations(received: world.services.received, acknowledged: world.acknowledged,
                                                requireDelivery: syncPolicy == .always)
        guard problems.isEmpty else {
            throw Failure(seed: seed, step: steps, message: problems.joined(separator: "; "))
        }
        let trace = world.services.received.map { received in
            let transaction = received.transaction
            return "\(transaction.service) \(transaction.id) \(transaction.attempt) \(received.delivered) "
                + String(decoding: transaction.body, as: UTF8.self)
        }
        return Report(seed: seed, steps: steps, crashes: world.disk.crashCount, compactions: compactions,
                      acknowledged: world.acknowledged.values.reduce(0) { $0 + $1.count }, trace: trace)
    }

    /// Every item a running scheduler's state points to reads back from the log: compaction
    /// never drops a record that is still queued or pending.
    private static func expectItemsReadable(on scheduler: AppServiceScheduler, in world: SimulatedWorld,
                                            crashesSeen: Int, seed: UInt64, step: Int) async throws {
        guard world.disk.crashCount == crashesSeen, await scheduler.failureDescription == nil else { return }
        do {
            _ = try await scheduler.queuedAndPendingItems()
        } catch {
            // A crash or a failed log during the read explains it; anything else is a lost record.
            guard world.disk.crashCount == crashesSeen, await scheduler.failureDescription == nil else { return }
            throw Failure(seed: seed, step: step, message: "queued or pending items unreadable in a running scheduler: \(error)")
        }
    }
}
