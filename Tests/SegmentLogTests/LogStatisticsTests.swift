import SegmentLog
import SegmentLogTesting
import Testing

@Suite struct LogStatisticsTests {
    /// The log's size is what its writer tracked, not a directory listing: its segments' bytes
    /// across rolls, without preallocated space, and the same again after a reopen.
    @Test(arguments: TestDisk.allCases, [Preallocation.none, .zeroFill])
    func logBytesIsTheSumOfTheSegments(disk: TestDisk, preallocation: Preallocation) async throws {
        let directory = TestDirectory(disk)
        var configuration = directory.configuration(segmentSizeBytes: 600)
        configuration.preallocation = preallocation
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        #expect(log.statistics.logBytes == SegmentHeader.byteCount)
        var random = SeededRandom(seed: 4)
        for index in 0..<30 {
            _ = try await log.append(type: 1, payload: makePayload(size: 40 + index * 7, compressible: index % 2 == 0,
                                                                   using: &random))
        }
        let tracked = log.statistics.logBytes
        try await log.close()
        // Closing trims preallocated zeros, so now the files hold exactly the log's bytes.
        let onDisk = try directory.segmentPaths().reduce(0) { try $0 + directory.bytes(of: $1).count }
        #expect(try directory.segmentPaths().count >= 3)
        #expect(tracked == onDisk)
        let reopened = try SegmentLog.open(directory: directory.path, configuration: configuration)
        #expect(reopened.statistics.logBytes == onDisk)
        try await reopened.close()
    }
}
