import AppServiceScheduler
import Foundation

/// Compaction of a long-lived backlog, in a fresh process (`asched-bench --compaction-probe DIR`):
/// opens the scheduler on DIR (a backlog, nothing sent), compacts three times in a row, and
/// prints the peak RSS after the open, after the compactions, and each compaction's seconds.
/// The first compaction scans every sealed segment; the next ones find the segments it kept
/// remembered (``SegmentLog``'s compaction memo) and read none of them again.
enum CompactionProbe {
    static func probe(directory: String) async throws {
        var configuration = SchedulerConfiguration()
        configuration.compactAfterSealedSegments = nil
        configuration.log.segmentSizeBytes = OutageReport.segmentBytes
        let scheduler = try await AppServiceScheduler.open(directory: directory, services: [], transport: ReplayMemory.Silent(),
                                                           clock: SystemClock(), configuration: configuration)
        let opened = ReplayMemory.peakResidentBytes()
        var seconds: [Double] = []
        for _ in 0..<3 {
            let started = ContinuousClock.now
            try await scheduler.compact()
            seconds.append(EndToEnd.seconds(ContinuousClock.now - started))
        }
        try await scheduler.close()
        print("\(opened) \(ReplayMemory.peakResidentBytes()) " + seconds.map { "\($0)" }.joined(separator: " "))
    }
}
