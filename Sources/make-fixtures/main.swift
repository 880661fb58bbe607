import AppServiceSchedulerTesting
import Glibc
import SegmentLog
import SegmentLogTesting

// Regenerates the fixture logs: `swift run make-fixtures Fixtures` writes Fixtures/segmentlog
// (SegmentLog's own) and Fixtures/schedulerlog (scheduler logs for the inspection tools).
let arguments = CommandLine.arguments.dropFirst()
guard let root = arguments.first, arguments.count == 1 else {
    print("usage: make-fixtures FIXTURES_DIRECTORY   (writes segmentlog/ and schedulerlog/ into it)")
    exit(2)
}
do {
    try await LogFixtures.write(to: root + "/segmentlog")
    try await SchedulerLogFixtures.write(to: root + "/schedulerlog")
    print("wrote \(LogFixtures.names.count) segmentlog and \(SchedulerLogFixtures.names.count) schedulerlog fixtures to \(root)")
} catch {
    print("make-fixtures: \(error)")
    exit(1)
}
