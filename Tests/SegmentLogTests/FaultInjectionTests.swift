import SegmentLog
import SegmentLogTesting
import Testing

@Suite struct FaultInjectionTests {
    /// A failed fdatasync stops the writer for good (never retried); the failed append and
    /// every later one throw; a reopen keeps every acknowledged record.
    @Test(arguments: [SimulatedFileSystem.Fault.failSync(after: 0), .failWrite(after: 0)])
    func failedSyncOrWriteStopsTheWriter(fault: SimulatedFileSystem.Fault) async throws {
        let directory = TestDirectory(.simulated)
        let disk = try #require(directory.simulated)
        // No background preparation of the next segment: its writes could take the fault first.
        var configuration = directory.configuration()
        configuration.preallocation = .none
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        let first = try await log.append(type: 1, payload: Array("kept".utf8))
        disk.inject(fault)
        let failed = await #expect(throws: SegmentLogError.self) { try await log.append(type: 1, payload: Array("lost".utf8)) }
        guard case .writerFailed(let cause) = failed else {
            Issue.record("unexpected \(String(describing: failed))")
            return
        }
        #expect(cause.contains("/log/0000000000000001.seg"))
        await #expect(throws: SegmentLogError.self) { try await log.append(type: 1, payload: [3]) }
        #expect(log.durablePosition == first)
        await #expect(throws: SegmentLogError.self) { try await log.close() }
        // The failed writer's close released the directory: a new writer may take it.
        let successor = try directory.open()
        try await successor.close()

        var random = SeededRandom(seed: 5)
        disk.crash(using: &random)
        let reopened = try directory.open()
        try await reopened.close()
        let records = try directory.readAll()
        #expect(records.first?.payload == Array("kept".utf8))
        #expect(records.count <= 2)
    }
}
