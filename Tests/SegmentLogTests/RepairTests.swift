import SegmentLog
import SegmentLogTesting
import Testing

@Suite struct RepairTests {
    func makeLog(_ disk: TestDisk) async throws -> TestDirectory {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 400)
        for index in 0..<20 {
            _ = try await log.append(type: 1, payload: Array("record number \(index) with some padding".utf8))
        }
        try await log.close()
        return directory
    }

    @Test(arguments: TestDisk.allCases)
    func cutsDamageInTheLastSegmentAndKeepsABrokenCopy(disk: TestDisk) async throws {
        let directory = try await makeLog(disk)
        let records = try directory.readAll()
        let lastSegment = try directory.segmentPaths().last!
        let inLast = records.filter { lastSegment.hasSuffix($0.location.segmentFileName) }
        #expect(inLast.count >= 2)
        var bytes = try directory.bytes(of: lastSegment)
        let original = bytes
        bytes[inLast[0].location.offset + FrameHeader.byteCount + 2] ^= 0x40
        try directory.replace(lastSegment, with: bytes)
        #expect(throws: SegmentLogError.self) { _ = try directory.open(segmentSizeBytes: 400) }

        let dryRun = try #require(try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: true))
        #expect(dryRun.offset == inLast[0].location.offset && dryRun.brokenCopyFileName == nil)
        #expect(try directory.bytes(of: lastSegment) == bytes, "a dry run changed the segment")

        let report = try #require(try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: false))
        #expect(report.offset == dryRun.offset && report.removedBytes == bytes.count - report.offset)
        let copy = try #require(report.brokenCopyFileName)
        #expect(try directory.bytes(of: directory.path + "/" + copy) == bytes)
        #expect(copy.hasSuffix(".broken") && bytes != original)

        let reopened = try directory.open(segmentSizeBytes: 400)
        #expect(reopened.tornTail == nil)
        try await reopened.close()
        #expect(try directory.readAll() == records.filter { $0.position < inLast[0].position })
        #expect(try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: false) == nil)
    }

    @Test(arguments: TestDisk.allCases)
    func refusesDamageInASealedSegment(disk: TestDisk) async throws {
        let directory = try await makeLog(disk)
        let first = try directory.segmentPaths()[0]
        var bytes = try directory.bytes(of: first)
        bytes[SegmentHeader.byteCount + FrameHeader.rawLengthOffset] ^= 1
        try directory.replace(first, with: bytes)
        let error = #expect(throws: SegmentLogError.self) {
            _ = try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: false)
        }
        guard case .repairRefused(_, let reason) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(reason.contains(first))
        #expect(try directory.bytes(of: first) == bytes)
    }

    @Test(arguments: TestDisk.allCases)
    func cleanLogNeedsNoRepair(disk: TestDisk) async throws {
        let directory = try await makeLog(disk)
        #expect(try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: false) == nil)
    }
}

extension RepairTests {
    @Test(arguments: TestDisk.allCases)
    func refusesToCutBesideALiveWriter(disk: TestDisk) async throws {
        let directory = try await makeLog(disk)
        let log = try directory.open(segmentSizeBytes: 400)
        #expect(throws: SegmentLogError.self) {
            _ = try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: false)
        }
        #expect(try SegmentLog.repair(directory: directory.path, fileSystem: directory.fileSystem, dryRun: true) == nil)
        try await log.close()
    }
}
