import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

@Suite struct CompressionTests {
    static let compressible = [UInt8](repeating: 0x61, count: 600)

    /// What an `onSync` hook appends while a sync is in flight.
    private final class DuringSync: Sendable {
        let log = Mutex<SegmentLog?>(nil)
        let append = Mutex<PendingAppend?>(nil)
    }

    /// The default compresses only appends made while the log commits an earlier batch.
    @Test(arguments: TestDisk.allCases)
    func theDefaultStoresALoneAppendersRecordsAsGiven(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        var configuration = directory.configuration(segmentSizeBytes: 1 << 20)
        configuration.compression = SegmentLog.Configuration().compression
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        for _ in 0..<20 { _ = try await log.append(type: 1, payload: Self.compressible) }
        #expect(log.statistics.storedPayloadBytes == log.statistics.payloadBytes)
        try await log.close()
        let records = try directory.readAll()
        #expect(records.count == 20)
        #expect(records.allSatisfy { !$0.location.isCompressed && $0.payload == Self.compressible })
    }

    @Test(arguments: TestDisk.allCases)
    func theDefaultCompressesAnAppendMadeDuringASync(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let duringSync = DuringSync()
        var configuration = directory.configuration(segmentSizeBytes: 1 << 20)
        configuration.compression = SegmentLog.Configuration().compression
        configuration.onSync = { _ in
            guard let log = duringSync.log.withLock({ $0 }), duringSync.append.withLock({ $0 == nil }) else { return }
            let append = try? log.beginAppend(contentsOf: [LogEntry(type: 2, payload: Self.compressible)])
            duringSync.append.withLock { $0 = append }
        }
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        duringSync.log.withLock { $0 = log }
        _ = try await log.append(type: 1, payload: Self.compressible)
        let append = try #require(duringSync.append.withLock { $0 })
        try await append.durable()
        #expect(log.statistics.storedPayloadBytes < log.statistics.payloadBytes)
        try await log.close()
        let records = try directory.readAll()
        #expect(records.map(\.location.isCompressed) == [false, true])
        #expect(records.allSatisfy { $0.payload == Self.compressible })
    }
}
