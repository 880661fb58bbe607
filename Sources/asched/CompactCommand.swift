import AppServiceScheduler
import ArgumentParser
import SegmentLog

/// `asched compact`: rewrite the log without completed transactions, offline.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Compact a log offline: drop completed transactions and their events.",
        discussion: """
            Seals the segment being appended to, then replaces every sealed segment with one
            compacted segment holding a checkpoint of each service and its pending work. Positions
            and transaction ids do not change. Crash-safe at every step. Takes the log's writer
            lock, so it refuses to run beside a live daemon (which compacts online by itself).

            Example:
              asched compact /var/lib/asched
            """)

    @OptionGroup var log: LogDirectoryOptions

    func run() async throws {
        _ = try log.reader()
        var configuration = SegmentLog.Configuration()
        configuration.preallocation = .none
        let segmentLog = try SegmentLog.open(directory: log.directory, configuration: configuration)
        do {
            try await segmentLog.sealActiveSegment()
            if let report = try await SchedulerCompaction.compact(segmentLog) {
                print(report)
            } else {
                print("nothing to compact: the log is already as small as its pending state")
            }
        } catch {
            try? await segmentLog.close()
            throw error
        }
        try await segmentLog.close()
    }
}
