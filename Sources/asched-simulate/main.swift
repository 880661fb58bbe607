import AppServiceSchedulerTesting
import Foundation

// asched-simulate: the seeded crash simulation of the whole scheduler (see CrashSimulation).
let usage = """
    usage: asched-simulate [--seed S] [--seeds K] [--steps N]
      --seed S    the first seed (default 0)
      --seeds K   how many consecutive seeds to run (default 1)
      --steps N   random steps per seed (default 300)
    A failure prints its seed and step and exits 1; rerun that seed to replay it.
    """
var seed: UInt64 = 0
var seeds = 1
var steps = 300
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--seed": seed = arguments.popFirst().flatMap(UInt64.init) ?? UInt64.max
    case "--seeds": seeds = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--steps": steps = arguments.popFirst().flatMap(Int.init) ?? 0
    case "--help", "-h": print(usage); exit(0)
    default: print("unknown argument \(argument)\n\(usage)"); exit(2)
    }
}
guard seed != UInt64.max, seeds > 0, steps > 0 else { print(usage); exit(2) }
var crashes = 0
for offset in 0..<seeds {
    do {
        let report = try await CrashSimulation(seed: seed + UInt64(offset), steps: steps).run()
        crashes += report.crashes
        print(report)
    } catch {
        print("FAILED: \(error)")
        exit(1)
    }
}
print("asched-simulate: \(seeds) seeds passed, \(crashes) crashes survived")
