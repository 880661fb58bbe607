import SegmentLog
import SegmentLogTesting
import Testing

/// Damage that cannot be a torn write stops open with the file and offset. One driver builds a
/// log of several segments; one test per kind of damage.
@Suite struct CorruptionTests {
    struct Damaged {
        let directory: TestDirectory
        let records: [LogRecord]
        let segments: [String]
    }

    func makeLog(_ disk: TestDisk) async throws -> Damaged {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 600)
        var random = SeededRandom(seed: 11)
        for index in 0..<24 {
            _ = try await log.append(type: 3, payload: makePayload(size: 90, compressible: index % 2 == 0, using: &random))
        }
        try await log.close()
        let damaged = Damaged(directory: directory, records: try directory.readAll(), segments: try directory.segmentPaths())
        #expect(damaged.segments.count >= 4)
        return damaged
    }

    func expectOpenFails(_ directory: TestDirectory, with expected: SegmentLogError, _ comment: Comment) {
        #expect(throws: expected, comment) { _ = try directory.open(segmentSizeBytes: 600) }
    }

    @Test(arguments: TestDisk.allCases)
    func bitFlipAtEveryByteOfASealedFrame(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        let target = log.records.filter { $0.location.segmentFileName == "0000000000000001.seg" }[1]
        let path = log.segments[0]
        let intact = try log.directory.bytes(of: path)
        let frameEnd = target.location.offset + FrameHeader.byteCount + target.location.storedBytes
        for offset in target.location.offset..<frameEnd {
            var damaged = intact
            damaged[offset] ^= 0x10
            try log.directory.replace(path, with: damaged)
            let error = #expect(throws: SegmentLogError.self) { _ = try log.directory.open(segmentSizeBytes: 600) }
            guard case .corruptFrame(let file, let at, _) = error else {
                Issue.record("flip at \(offset): \(String(describing: error))")
                continue
            }
            #expect(file == path && at == target.location.offset, "flip at \(offset)")
        }
        try log.directory.replace(path, with: intact)
        #expect(try log.directory.readAll() == log.records)
    }

    @Test(arguments: TestDisk.allCases)
    func damageFollowedByValidRecordsInTheLastSegment(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        let path = log.segments.last!
        let lastSegmentRecords = log.records.filter { path.hasSuffix($0.location.segmentFileName) }
        #expect(lastSegmentRecords.count >= 2)
        var bytes = try log.directory.bytes(of: path)
        let target = lastSegmentRecords[0].location.offset
        bytes[target + FrameHeader.byteCount + 6] ^= 0xFF
        try log.directory.replace(path, with: bytes)
        let error = #expect(throws: SegmentLogError.self) { _ = try log.directory.open(segmentSizeBytes: 600) }
        guard case .corruptFrame(let file, let offset, let reason) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(file == path && offset == target)
        #expect(reason.contains("asched repair"))
    }

    @Test(arguments: TestDisk.allCases)
    func missingMiddleSegment(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        try log.directory.remove(log.segments[1])
        let error = #expect(throws: SegmentLogError.self) { _ = try log.directory.open(segmentSizeBytes: 600) }
        guard case .brokenChain(let file, _, _) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(file == log.segments[2])
    }

    @Test(arguments: TestDisk.allCases)
    func missingFirstSegment(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        try log.directory.remove(log.segments[0])
        expectOpenFails(log.directory, with: .brokenChain(file: log.segments[1], expected: 0,
                                                          found: try Self.previousChain(log.directory, log.segments[1])),
                        "segment 1 removed")
    }

    static func previousChain(_ directory: TestDirectory, _ segment: String) throws -> UInt32 {
        let bytes = try directory.bytes(of: segment)
        let chain = SegmentHeader.previousChainOffset
        return bytes[chain..<chain + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    @Test(arguments: TestDisk.allCases)
    func unknownFormatVersion(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        var bytes = try log.directory.bytes(of: log.segments[0])
        bytes[SegmentHeader.versionOffset] = 9
        let crc = SegmentHeader.checksumOffset
        let checksum = CRC32CReference.checksum(Array(bytes[..<crc]), seed: 0)
        bytes.replaceSubrange(crc..<crc + 4, with: (0..<4).map { UInt8(truncatingIfNeeded: checksum >> ($0 * 8)) })
        try log.directory.replace(log.segments[0], with: bytes)
        expectOpenFails(log.directory, with: .unsupportedFormatVersion(file: log.segments[0], found: 9, supported: 1),
                        "a header written by version 9")
    }

    @Test(arguments: TestDisk.allCases)
    func damagedVersionFieldIsCorruptionNotANewVersion(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        var bytes = try log.directory.bytes(of: log.segments[0])
        bytes[SegmentHeader.versionOffset] ^= 0x08
        try log.directory.replace(log.segments[0], with: bytes)
        let error = #expect(throws: SegmentLogError.self) { _ = try log.directory.open(segmentSizeBytes: 600) }
        guard case .corruptSegmentHeader(let file, let reason) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(file == log.segments[0] && reason.contains("version field reads 9"))
    }

    @Test(arguments: TestDisk.allCases)
    func duplicatedSegment(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        let copy = log.directory.path + "/00000000000000ff.seg"
        let file = try log.directory.fileSystem.openFile(at: copy, mode: .createNew)
        try file.close()
        try log.directory.replace(copy, with: try log.directory.bytes(of: log.segments[1]))
        expectOpenFails(log.directory,
                        with: .corruptSegmentHeader(file: copy, reason: "header says segment id 2 but the file name says 255"),
                        "segment 2 copied as segment 255")
    }

    @Test(arguments: TestDisk.allCases)
    func damagedSegmentHeader(disk: TestDisk) async throws {
        let log = try await makeLog(disk)
        var bytes = try log.directory.bytes(of: log.segments[2])
        bytes[SegmentHeader.segmentIdOffset + 4] ^= 1
        try log.directory.replace(log.segments[2], with: bytes)
        let error = #expect(throws: SegmentLogError.self) { _ = try log.directory.open(segmentSizeBytes: 600) }
        guard case .corruptSegmentHeader(let file, let reason) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(file == log.segments[2] && reason.contains("checksum"))
    }

    @Test func errorMessagesNameFileAndOffset() {
        let message = SegmentLogError.corruptFrame(file: "/data/0000000000000002.seg", offset: 4096,
                                                   reason: "checksum mismatch").description
        #expect(message.contains("/data/0000000000000002.seg") && message.contains("4096"))
    }
}
