import AppServiceSchedulerTesting
import Testing

/// The seeded whole-scheduler crash simulation (`CrashSimulation`), over a fixed set of seeds:
/// crashes between steps, before random disk operations (mid-write, mid-compaction, between a
/// rename and its directory sync) and at the moment a send arrives. A failure names its seed
/// and step; `swift run asched-simulate --seed S` replays it, and a longer soak is
/// `swift run -c release asched-simulate --seed 0 --seeds 1000 --steps 500`.
@Suite struct CrashSimulationTests {
    @Test(arguments: 0..<200)
    func invariantsHoldAcrossCrashes(seed: UInt64) async throws {
        do {
            let report = try await CrashSimulation(seed: seed, steps: 200).run()
            #expect(report.crashes > 0 || report.acknowledged > 0, "\(report)")
        } catch let failure as CrashSimulation.Failure {
            Issue.record("\(failure)")
        }
    }

    /// Under `interval`, a crash may lose acknowledged items, but a transaction must never
    /// leave before its record is synced: no id may reach a service with two bodies.
    @Test(arguments: 0..<60)
    func intervalPolicyNeverReusesAnId(seed: UInt64) async throws {
        do {
            _ = try await CrashSimulation(seed: seed, steps: 200, syncPolicy: .interval(.milliseconds(20))).run()
        } catch let failure as CrashSimulation.Failure {
            Issue.record("\(failure)")
        }
    }

    /// Nothing but the seed decides a run: the same seed twice gives the same transactions,
    /// attempts and bodies in the same order, crashes and compactions included.
    @Test(arguments: [3, 17, 42, 99])
    func aSeedReplaysExactly(seed: UInt64) async throws {
        let first = try await CrashSimulation(seed: seed, steps: 300).run()
        let second = try await CrashSimulation(seed: seed, steps: 300).run()
        #expect(first.trace.count > 10 && first.crashes > 0, "seed \(seed) exercises too little: \(first)")
        #expect(first.trace == second.trace,
                "seed \(seed): the runs differ from transaction \(zip(first.trace, second.trace).prefix { $0 == $1 }.count)")
        #expect(first.crashes == second.crashes && first.compactions == second.compactions)
    }
}
