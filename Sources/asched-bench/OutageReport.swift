import Foundation

/// Runs the outage scenario (``OutageRun``) `runs` times at `backlog` events and at 10,000,
/// and prints the figures, medians over the runs, beside their targets.
enum OutageReport {
    static let smallBacklog = 10_000
    static let segmentBytes = 64 << 20

    static func run(directory: String, backlog: Int, upPerRequest: Int, runs: Int) async throws {
        var large: [OutageRun.Result] = []
        var small: [OutageRun.Result] = []
        for run in 1...runs {
            FileHandle.standardError.write(Data("outage of \(smallBacklog) events, run \(run)/\(runs)\n".utf8))
            small.append(try await OutageRun(directory: directory, backlog: smallBacklog, upPerRequest: upPerRequest,
                                              drainTimeout: .seconds(300)).run())
            FileHandle.standardError.write(Data("outage of \(backlog) events, run \(run)/\(runs)\n".utf8))
            let result = try await OutageRun(directory: directory, backlog: backlog, upPerRequest: upPerRequest,
                                             drainTimeout: .seconds(1800)).run()
            FileHandle.standardError.write(Data((line(result) + "\n").utf8))
            large.append(result)
        }
        FileHandle.standardError.write(Data("restart with \(backlog) single-event records queued\n".utf8))
        let single = try await OutageRun.singleEventBacklog(directory: directory + "/single", events: backlog)
        print(table(large: large, small: small, upPerRequest: upPerRequest, runs: runs))
        print("| restart, worst case for memory: a backlog of \(single.items) records of one event each (written straight "
              + "to the log), opened by a fresh process | peak RSS \(single.peakRSS >> 20) MiB, open in \(format(single.openSeconds)) s; "
              + "log \(mib(single.logBytes)) MiB; checkpoint \(mib(single.checkpointBytes)) MiB "
              + "(\(format(Double(single.checkpointBytes) / Double(single.items), 1)) B per queued event) | < 256 MiB: "
              + (single.peakRSS < 256 << 20 ? "**met**" : "**not met**") + " |")
    }

    /// One run's figures, for the progress output.
    static func line(_ result: OutageRun.Result) -> String {
        "  enqueue \(Int(result.enqueueRate))/s; RSS outage \(result.outagePeakRSS >> 20) MiB, restart \(result.restart.peakRSS >> 20) MiB, "
            + "catch-up \(result.catchUpPeakRSS >> 20) MiB; drain \(Int(result.drainRate))/s in \(format(result.drainSeconds)) s "
            + "(\(result.fullTransactions)/\(result.transactions) full); compaction \(result.outageCompactions.count)+\(result.drainCompactions.count) "
            + "(unfinished at stop: \(result.outageCompactions.unfinished)+\(result.drainCompactions.unfinished)) "
            + "wrote \(mib(result.outageCompactions.written + result.drainCompactions.written)) MiB, WA \(format(result.writeAmplification, 3)); "
            + "log \(mib(result.restart.logBytes)) MiB, live \(mib(result.restart.liveBytes)) MiB, after the drain \(mib(result.logBytesAfterDrain)) MiB; "
            + "first 10k at \(Int(result.firstTenThousandRate ?? 0))/s; by tenths of the drain "
            + result.drainCurve.map { "\(Int($0))" }.joined(separator: " ") + " events/s"
    }

    static func table(large: [OutageRun.Result], small: [OutageRun.Result], upPerRequest: Int, runs: Int) -> String {
        func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func range(_ values: [Double], _ show: (Double) -> String) -> String {
            values.count < 2 ? "" : " (runs: \(show(values.min()!))–\(show(values.max()!)))"
        }
        let first = large[0]
        let rssTarget = 256 << 20
        let outageRSS = large.map { Double($0.outagePeakRSS) }
        let restartRSS = large.map { Double($0.restart.peakRSS) }
        let catchUpRSS = large.map { Double($0.catchUpPeakRSS) }
        let drain = large.map(\.drainRate)
        let firstTenThousand = large.map { $0.firstTenThousandRate ?? 0 }
        let smallDrain = small.map { $0.firstTenThousandRate ?? 0 }
        let linear = middle(smallDrain) / middle(firstTenThousand)
        let amplification = large.map(\.writeAmplification)
        let logToLive = large.map { Double($0.restart.logBytes) / Double($0.restart.liveBytes) }
        let logBound = large.map { Double(3 * $0.restart.liveBytes + 2 * segmentBytes) }
        let logWithinBound = zip(large, logBound).allSatisfy { Double($0.restart.logBytes) <= $1 }
        let full = large.map { Double($0.fullTransactions) / Double($0.transactions) }
        func mibs(_ value: Double) -> String { "\(Int(value) >> 20) MiB" }
        func verdict(_ met: Bool) -> String { met ? "**met**" : "**not met**" }
        var lines = [
            "asched-bench --outage: medians of \(runs) runs; \(ProcessInfo.processInfo.activeProcessorCount) cores; "
                + "backlog \(first.backlog) events for `down`, \(first.postedEvents) events posted (\(upPerRequest) of each 10 to `up`)",
            "",
            "| figure | result | target |",
            "|---|---|---|",
            "| enqueue rate during the outage (all events posted, both services) | \(Int(middle(large.map(\.enqueueRate)))) events/s"
                + range(large.map(\.enqueueRate)) { "\(Int($0))" } + " | |",
            "| daemon peak RSS during the outage | \(mibs(middle(outageRSS)))" + range(outageRSS, mibs)
                + " | < 256 MiB: \(verdict(outageRSS.max()! < Double(rssTarget))) |",
            "| restart: peak RSS of a fresh process opening the backlog | \(mibs(middle(restartRSS)))" + range(restartRSS, mibs)
                + ", open in \(format(middle(large.map(\.restart.openSeconds)))) s | < 256 MiB: \(verdict(restartRSS.max()! < Double(rssTarget))) |",
            "| daemon peak RSS during the catch-up (restarted daemon: replay and drain) | \(mibs(middle(catchUpRSS)))"
                + range(catchUpRSS, mibs) + " | < 256 MiB: \(verdict(catchUpRSS.max()! < Double(rssTarget))) |",
            "| drain rate (events received by `down` / drain time) | \(Int(middle(drain))) events/s" + range(drain) { "\(Int($0))" }
                + " | ≥ 50,000/s: \(verdict(middle(drain) >= 50_000)) |",
            "| total drain time | \(format(middle(large.map(\.drainSeconds)))) s | |",
            "| transactions of the drain | \(first.transactions) (\(first.fullTransactions) of 100 events); "
                + "\(format(100 * middle(full), 1))% full | full 100-event transactions |",
            "| linear catch-up: drain rate of a \(smallBacklog)-event backlog / over the first \(smallBacklog) events of "
                + "the \(first.backlog)-event one (both from the first transaction's arrival) | \(Int(middle(smallDrain))) / \(Int(middle(firstTenThousand))) events/s = "
                + "\(format(linear, 2))x | ≤ 2x: \(verdict(linear <= 2)) |",
            "| drain rate over each tenth of the backlog, oldest first (run 1) | "
                + first.drainCurve.map { "\(Int($0 / 1000))k" }.joined(separator: ", ") + " events/s: last / first tenth "
                + "\(format(middle(large.map { ($0.drainCurve.last ?? 0) / ($0.drainCurve.first ?? 1) }), 2))x | flat: O(items taken), not O(backlog) |",
            "| bytes written by compaction (compacted segments) | \(mibs(middle(large.map { Double($0.outageCompactions.written) }))) "
                + "in the outage (\(first.outageCompactions.count) compactions, \(first.outageCompactions.unfinished) unfinished at its end), "
                + "\(mibs(middle(large.map { Double($0.drainCompactions.written) }))) in the drain "
                + "(\(first.drainCompactions.count) compactions) | |",
            "| write amplification (compaction bytes / \(mibs(middle(large.map { Double($0.ingestedBytes) }))) appended) | "
                + "\(format(middle(amplification), 3))" + range(amplification) { format($0, 3) }
                + " | ≤ 1.5: \(verdict(amplification.max()! <= 1.5)) |",
            "| log size / live bytes at the end of the outage | \(mibs(Double(first.restart.logBytes))) / "
                + "\(mibs(Double(first.restart.liveBytes))) = \(format(middle(logToLive), 2))x | ≤ 3x live + 2 segments: "
                + "\(verdict(logWithinBound)) |",
            "| log size once the backlog is drained | \(mibs(middle(large.map { Double($0.logBytesAfterDrain) }))) | |",
            "| checkpoint of the backlog's state (payload) | \(mibs(Double(first.restart.checkpointBytes))) "
                + "(\(format(Double(first.restart.checkpointBytes) / Double(first.restart.items), 1)) B per queued event) | |",
        ]
        if let timedOut = large.first(where: { $0.drainedEvents < $0.backlog }) {
            lines.append("")
            lines.append("drain TIMED OUT: \(timedOut.drainedEvents) of \(timedOut.backlog) events received")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
    static func mib(_ bytes: Int) -> Int { bytes >> 20 }
}
