import AppServiceScheduler
import ArgumentParser
import SegmentLog

/// `asched compact`: drop completed transactions and summarized history from a log, offline.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Compact a log offline: drop completed transactions and their events.",
        discussion: """
            Replays the log, appends a checkpoint of every service, then drops the records before
            it that the checkpoint no longer needs. Queued and pending items stay where they are;
            a segment is rewritten only when little of it is still needed (docs/FORMAT.md,
            "Compaction"). Positions and transaction ids do not change. Crash-safe at every step.
            Takes the log's writer lock, so it refuses to run beside a live daemon (which
            compacts online by itself). Nothing is sent to any service.

            Example:
              asched compact /var/lib/asched
            """)

    @OptionGroup var log: LogDirectoryOptions

    func run() async throws {
        _ = try log.reader()
        try await OfflineScheduler.run(on: log.directory) { scheduler in
            if let report = try await scheduler.compact() {
                print(report)
            } else {
                print("nothing to compact: no sealed segment lies before the checkpoint")
            }
        }
    }
}
