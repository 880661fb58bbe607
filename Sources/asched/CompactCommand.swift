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

    /// Offline, nothing is delivered: no service is configured, so this is never called.
    private struct NoTransport: Transport {
        func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
            preconditionFailure("asched compact sends nothing")
        }
    }

    func run() async throws {
        _ = try log.reader()
        var configuration = SchedulerConfiguration()
        configuration.log.preallocation = .none
        configuration.compactAfterSealedSegments = nil
        let scheduler = try await AppServiceScheduler.open(directory: log.directory, services: [], transport: NoTransport(),
                                                           clock: SystemClock(), configuration: configuration)
        do {
            if let report = try await scheduler.compact() {
                print(report)
            } else {
                print("nothing to compact: no sealed segment lies before the checkpoint")
            }
        } catch {
            try? await scheduler.close()
            throw error
        }
        try await scheduler.close()
    }
}
