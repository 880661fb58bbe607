import SegmentLog
import SegmentLogTesting
import Testing

@Suite struct DirectoryLockTests {
    @Test(arguments: TestDisk.allCases)
    func secondWriterIsRefusedNamingTheLockFile(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open()
        let error = #expect(throws: SegmentLogError.self) { _ = try directory.open() }
        guard case .directoryLocked(let lockFile, _) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(lockFile == directory.path + "/LOCK")
        try await log.close()
        let again = try directory.open()
        try await again.close()
    }

    /// A reader beside a live writer sees a consistent prefix and disturbs nothing.
    @Test(arguments: TestDisk.allCases)
    func readerBesideALiveWriter(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 2048)
        for index in 0..<200 {
            _ = try await log.append(type: 1, payload: Array("record \(index)".utf8))
            if index % 40 == 0 {
                let seen = try directory.readAll()
                #expect(seen.count == index + 1)
                #expect(seen.enumerated().allSatisfy { $1.payload == Array("record \($0)".utf8) })
            }
        }
        try await log.close()
        #expect(try directory.readAll().count == 200)
    }
}
