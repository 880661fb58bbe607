import SegmentLog
import SegmentLogTesting
import Testing

/// A lone appender commits its batch on its own thread (no hand-off to the commit queue);
/// concurrent appenders go back to the queue's group commit. Both keep the log's promises:
/// positions in call order, durable only after the sync that covers them, a failure final.
@Suite struct AppenderThreadCommitTests {
    /// One sync per append, and each append durable when it returns.
    @Test(arguments: TestDisk.allCases)
    func loneAppenderSyncsEachAppendOnce(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 1 << 20)
        for index in 1...50 {
            let position = try await log.append(type: 1, payload: Array("record \(index)".utf8))
            #expect(position.rawValue == UInt64(index))
            #expect(log.durablePosition == position)
        }
        #expect(log.statistics.syncs == 50)
        #expect(log.statistics.writes == 50)
        try await log.close()
        #expect(try directory.readAll().map(\.payload) == (1...50).map { Array("record \($0)".utf8) })
    }

    /// After a lone phase, 64 concurrent appenders still share syncs, and each appender's
    /// records are in the log in the order it appended them.
    @Test(arguments: TestDisk.allCases)
    func appendersJoiningALoneOneShareSyncs(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 1 << 20)
        for index in 0..<10 { _ = try await log.append(type: 1, payload: Array("lone:\(index)".utf8)) }
        let syncsAlone = log.statistics.syncs
        #expect(syncsAlone == 10)
        let appenders = ConcurrentAppenders(count: 64, perAppender: 10)
        let appends = appenders.count * appenders.perAppender
        let positions = try await appenders.append(to: log)
        let syncsTogether = log.statistics.syncs - syncsAlone
        try await log.close()
        #expect(positions.allSatisfy { $0 == $0.sorted() })
        #expect(Set(positions.joined()).count == appends)
        // A simulated sync takes no time, so whether appenders arrive while one is under way is
        // up to the scheduler (a loaded run saw 257 syncs for 640 appends): there the bound only
        // says the commits were not serialized one append at a time. A real one takes long
        // enough that they do.
        let syncsMax = disk == .real ? appends / 4 - 1 : appends - 1
        #expect(syncsTogether <= syncsMax, "\(syncsTogether) syncs for \(appends) appends")
        let order = ConcurrentAppenders.numbersByAppender(in: try directory.readAll().dropFirst(10))
        #expect(order.count == appenders.count)
        #expect(order.values.allSatisfy { $0 == Array(0..<appenders.perAppender) })
    }

    /// An append nobody awaits is still written: `beginAppend` schedules its commit.
    @Test(arguments: TestDisk.allCases)
    func appendNotAwaitedIsCommittedAnyway(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 1 << 20)
        _ = try await log.append(type: 1, payload: [1])
        let pending = try log.beginAppend(contentsOf: [LogEntry(type: 1, payload: [2]), LogEntry(type: 1, payload: [3])])
        // Queued after the commit beginAppend scheduled.
        try await log.synchronize()
        #expect(log.durablePosition == pending.positions.upperBound)
        let next = try await log.append(type: 1, payload: [4])
        #expect(next == pending.positions.upperBound.next)
        try await pending.durable()
        try await log.close()
        #expect(try directory.readAll().map(\.payload) == [[1], [2], [3], [4]])
    }

    /// A failed sync fails the batch that met it and every append after it, whichever thread
    /// commits them; nothing after the fault is acknowledged.
    @Test func failedSyncFailsConcurrentAppendsForGood() async throws {
        let directory = TestDirectory(.simulated)
        let disk = try #require(directory.simulated)
        var configuration = directory.configuration(segmentSizeBytes: 1 << 20)
        // No background preparation of the next segment: its writes could take the fault first.
        configuration.preallocation = .none
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        let kept = try await log.append(type: 1, payload: [1])
        disk.inject(.failSync(after: 0))
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for appender in 0..<16 {
                group.addTask {
                    var failed = false
                    for index in 0..<5 {
                        do {
                            _ = try await log.append(type: 1, payload: [UInt8(appender), UInt8(index)])
                            if failed { return false }
                        } catch {
                            failed = true
                        }
                    }
                    return failed
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        // Every appender met the failure, and none succeeded after it.
        #expect(outcomes == Array(repeating: true, count: 16))
        #expect(log.durablePosition == kept)
        await #expect(throws: SegmentLogError.self) { try await log.append(type: 1, payload: [9]) }
        await #expect(throws: SegmentLogError.self) { try await log.close() }
    }
}
