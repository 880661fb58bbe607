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
        let appenders = 64
        let perAppender = 20
        let positions = try await withThrowingTaskGroup(of: [LogPosition].self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var mine: [LogPosition] = []
                    for index in 0..<perAppender {
                        mine.append(try await log.append(type: 1, payload: Array("\(appender):\(index)".utf8)))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let statistics = log.statistics
        try await log.close()
        #expect(Set(positions).count == appenders * perAppender)
        #expect(statistics.syncs < appenders * perAppender / 2, "\(statistics.syncs) syncs for \(appenders * perAppender) appends")
        let records = try directory.readAll()
        #expect(records.count == appenders * perAppender)
        var perAppenderOrder: [String: [Int]] = [:]
        for record in records {
            let parts = String(decoding: record.payload, as: UTF8.self).split(separator: ":")
            perAppenderOrder[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        #expect(perAppenderOrder.values.allSatisfy { $0 == Array(0..<perAppender) })
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
