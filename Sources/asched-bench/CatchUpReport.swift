import Foundation

/// Runs ``CatchUpRun`` `runs` times at 10,000 events and at `backlog`, alternately (so both see
/// the same machine), and prints the medians and their ratio beside the 2x target.
enum CatchUpReport {
    static let smallBacklog = 10_000

    static func run(directory: String, backlog: Int, runs: Int) async throws {
        var small: [CatchUpRun.Result] = []
        var large: [CatchUpRun.Result] = []
        for run in 1...runs {
            for (size, into) in [(smallBacklog, 0), (backlog, 1)] {
                FileHandle.standardError.write(Data("catch-up from a backlog of \(size) events, run \(run)/\(runs)\n".utf8))
                let result = try await CatchUpRun(directory: directory, backlog: size).run()
                FileHandle.standardError.write(Data(("  open \(format(result.openSeconds, 3)) s, "
                    + "first \(CatchUpRun.measuredEvents) events at \(Int(result.rate))/s\n").utf8))
                if into == 0 { small.append(result) } else { large.append(result) }
            }
        }
        func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let ratios = zip(small, large).map { $0.rate / $1.rate }
        let ratio = middle(small.map(\.rate)) / middle(large.map(\.rate))
        print("asched-bench --catch-up: medians of \(runs) runs; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("")
        print("| backlog | open (replay) | rate over the first \(CatchUpRun.measuredEvents) events |")
        print("|---|---|---|")
        for results in [small, large] {
            print("| \(results[0].backlog) events | \(format(middle(results.map(\.openSeconds)), 3)) s | "
                  + "\(Int(middle(results.map(\.rate)))) events/s "
                  + "(runs: \(Int(results.map(\.rate).min()!))–\(Int(results.map(\.rate).max()!))) |")
        }
        print("")
        print("linear catch-up: \(smallBacklog) / \(backlog) = \(format(ratio, 2))x (per run: "
              + ratios.map { format($0, 2) }.joined(separator: ", ") + "); target ≤ 2x: "
              + (ratio <= 2 ? "**met**" : "**not met**") + " in the medians, \(ratios.filter { $0 <= 2 }.count) of \(runs) runs")
    }

    static func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
