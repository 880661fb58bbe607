import AppServiceScheduler
import SegmentLog
import SegmentLogTesting

/// A seeded crash simulation of the whole scheduler: its log and compaction on a simulated
/// disk, services that go DOWN and come back, forced retries, and power failures at random
/// points (between steps, before a random disk operation — mid-write, mid-compaction, between a
/// rename and its directory sync — or at the moment a send reaches a service). After every
/// crash it reopens the log and checks that no acknowledged item was lost; at the end it
/// drains everything and checks the delivery invariants (``DeliveryCheck``).
///
/// The seed fixes the workload, the faults and what each crash keeps, so a failing seed replays
/// the same scenario (thread timing inside the scheduler and the log may still differ).
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
        public var description: String {
            "seed \(seed): \(steps) steps, \(crashes) crashes, \(compactions) compactions, "
                + "\(acknowledged) items acknowledged and delivered"
        }
    }

    static let services = [ServiceDescriptor(id: "irc", receivesEphemeral: true), ServiceDescriptor(id: "slack")]

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
            case 0..<11: await world.enqueue(to: service, ephemeral: Bool.random(using: &random), on: scheduler)
            case 11, 12: world.clock.advance(by: .milliseconds(Int64.random(in: 100...20_000, using: &random)))
            case 13: world.services.setDown(service, Bool.random(using: &random))
            case 14: try? await scheduler.forceRetry(service)
            case 15: if (try? await scheduler.compact()) != nil { compactions += 1 }
            case 16: world.disk.inject(.crash(after: Int.random(in: 0...30, using: &random), seed: random.next()))
            case 17: world.services.crash(atSend: Int.random(in: 1...4, using: &random))
            case 18: world.services.crash()
            default: break
            }
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
        return Report(seed: seed, steps: steps, crashes: world.disk.crashCount, compactions: compactions,
                      acknowledged: world.acknowledged.values.reduce(0) { $0 + $1.count })
    }
}
