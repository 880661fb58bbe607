import Foundation

/// A baseline and its contenders measured round by round, so each ratio compares runs made
/// seconds apart on the same disk: this disk drifts by up to 25% between runs, more than the
/// differences measured. The baseline runs first in odd rounds and last in even ones, and the
/// contenders take turns at going first, so neither a drift nor what the run before left on
/// the disk always favours the same side.
struct InterleavedRuns {
    /// The baseline's median rate.
    let baseline: Double
    /// Each contender's median rate.
    let contenders: [Double]
    /// Per contender, the median over rounds of its rate divided by the baseline's in that round.
    let ratios: [Double]
    /// Per contender, its ratio in each round, in round order.
    let roundRatios: [[Double]]

    static func measure(_ label: String, rounds: Int, baseline: () throws -> Double,
                        contenders: [() async throws -> Double]) async throws -> InterleavedRuns {
        precondition(rounds > 0 && !contenders.isEmpty)
        var baselines: [Double] = []
        var values = [[Double]](repeating: [], count: contenders.count)
        for round in 1...rounds {
            if round % 2 == 1 { baselines.append(try baseline()) }
            for turn in 0..<contenders.count {
                let index = (turn + round - 1) % contenders.count
                values[index].append(try await contenders[index]())
            }
            if round % 2 == 0 { baselines.append(try baseline()) }
            FileHandle.standardError.write(Data("\r\(label): round \(round)/\(rounds)   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        let roundRatios = values.map { zip($0, baselines).map { $0 / $1 } }
        return InterleavedRuns(baseline: median(baselines), contenders: values.map(median),
                               ratios: roundRatios.map(median), roundRatios: roundRatios)
    }

    /// Contender `index`'s rate divided by contender `other`'s, round by round: a second
    /// baseline measured among the contenders.
    func roundRatios(of index: Int, to other: Int) -> [Double] {
        zip(roundRatios[index], roundRatios[other]).map { $0 / $1 }
    }

    /// The median of ``roundRatios(of:to:)``.
    func ratio(of index: Int, to other: Int) -> Double {
        Self.median(roundRatios(of: index, to: other))
    }

    private static func median(_ values: [Double]) -> Double {
        values.sorted()[values.count / 2]
    }
}
