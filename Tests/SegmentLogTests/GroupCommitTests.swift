import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

@Suite struct GroupCommitTests {
    /// N tasks append at once under `always`: fewer syncs than appends, nothing lost.
    @Test(arguments: TestDisk.allCases)
    func concurrentAppendersShareSyncs(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 1 << 20)
        let appenders = ConcurrentAppenders(count: 64, perAppender: 20)
        let appends = appenders.count * appenders.perAppender
        let positions = try await appenders.append(to: log).joined()
        let statistics = log.statistics
        try await log.close()
        #expect(Set(positions).count == appends)
        // A simulated sync takes no time and a lone appender commits on its own thread, so on a
        // loaded machine how many appends meet one simulated sync is up to the scheduler (a
        // clean-clone CI run with the whole suite beside it saw 729 syncs for 1,280): there the
        // bound only says the commits were not serialized one append at a time.
        let syncsMax = disk == .real ? appends / 2 : appends - 1
        #expect(statistics.syncs <= syncsMax, "\(statistics.syncs) syncs for \(appends) appends")
        let records = try directory.readAll()
        #expect(records.count == appends)
        #expect(ConcurrentAppenders.numbersByAppender(in: records).values.allSatisfy { $0 == Array(0..<appenders.perAppender) })
    }

    @Test func intervalPolicyAcknowledgesBeforeSyncAndSyncsSoonAfter() async throws {
        let directory = TestDirectory(.simulated)
        let log = try directory.open(syncPolicy: .interval(.milliseconds(20)))
        _ = try await log.append(type: 1, payload: [1])
        let position = try await log.append(type: 1, payload: [2])
        #expect(log.lastPosition == position)
        var waited = 0
        while log.durablePosition < position && waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(log.durablePosition == position)
        try await log.close()
    }
}
