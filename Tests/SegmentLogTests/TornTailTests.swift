import SegmentLog
import SegmentLogTesting
import Testing

/// Open must keep exactly the frames before a tear in the last segment, wherever it falls.
@Suite struct TornTailTests {
    /// Writes 12 records, then for every byte offset from the start of the third-to-last frame
    /// to the end, rebuilds the last segment cut there (followed by `filler`), opens and reads.
    func checkEveryCut(disk: TestDisk, filler: (Int, inout SeededRandom) -> [UInt8]) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 64 << 10)
        var random = SeededRandom(seed: 3)
        for index in 0..<12 {
            _ = try await log.append(type: 1, payload: makePayload(size: 20 + index * 5, compressible: index % 3 == 0,
                                                                   using: &random))
        }
        try await log.close()
        let original = try directory.readAll()
        let segment = try directory.segmentPaths().last!
        let intact = try directory.bytes(of: segment)
        let firstCut = original[original.count - 3].location.offset

        for cut in firstCut..<intact.count {
            let fill = filler(intact.count - cut, &random)
            try directory.replace(segment, with: Array(intact[..<cut]) + fill)
            let expected = original.filter { end(of: $0) <= cut }
            let validEnd = expected.last.map(end(of:)) ?? SegmentHeader.byteCount
            let dropped = Array(intact[validEnd..<cut]) + fill
            let reopened = try directory.open(segmentSizeBytes: 64 << 10)
            #expect(reopened.lastPosition == expected.last?.position ?? .start, "cut at \(cut)")
            #expect((reopened.tornTail != nil) == dropped.contains { $0 != 0 }, "cut at \(cut)")
            if let tail = reopened.tornTail {
                #expect(tail.offset == validEnd, "cut at \(cut)")
                #expect(tail.discardedBytes == dropped.lastIndex { $0 != 0 }! + 1, "cut at \(cut)")
            }
            try await reopened.close()
            #expect(try directory.readAll() == expected, "cut at \(cut)")
        }
    }

    func end(of record: LogRecord) -> Int {
        record.location.offset + FrameHeader.byteCount + record.location.storedBytes
    }

    @Test(arguments: TestDisk.allCases)
    func truncatedAtEveryByte(disk: TestDisk) async throws {
        try await checkEveryCut(disk: disk) { _, _ in [] }
    }

    @Test(arguments: TestDisk.allCases)
    func zeroFilledAfterEveryByte(disk: TestDisk) async throws {
        try await checkEveryCut(disk: disk) { count, _ in [UInt8](repeating: 0, count: count) }
    }

    @Test(arguments: TestDisk.allCases)
    func garbageAfterEveryByte(disk: TestDisk) async throws {
        try await checkEveryCut(disk: disk) { count, random in
            (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
    }

    @Test func tornTailIsReportedWithOffsetAndSize() async throws {
        let directory = TestDirectory(.simulated)
        let log = try directory.open()
        _ = try await log.append(type: 1, payload: [1, 2, 3])
        _ = try await log.append(type: 1, payload: [4, 5, 6])
        try await log.close()
        let segment = try directory.segmentPaths().last!
        let bytes = try directory.bytes(of: segment)
        try directory.replace(segment, with: Array(bytes.dropLast(2)))
        let reopened = try directory.open()
        let tail = try #require(reopened.tornTail)
        #expect(tail.segmentFileName == "0000000000000001.seg")
        #expect(tail.offset == SegmentHeader.byteCount + FrameHeader.byteCount + 3)
        #expect(tail.discardedBytes == 25)
        #expect(reopened.lastPosition == LogPosition(rawValue: 1))
        try await reopened.close()
    }
}

extension TornTailTests {
    /// A crash can write a later page of a batch and not an earlier one: a zeroed sector inside
    /// the damage marks that torn write, so open cuts there even though valid frames follow.
    @Test(arguments: TestDisk.allCases)
    func zeroedSectorBeforeLaterFramesIsATornWrite(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 64 << 10)
        var random = SeededRandom(seed: 9)
        _ = try await log.append(type: 1, payload: [1])
        _ = try await log.append(contentsOf: (0..<3).map { _ in
            LogEntry(type: 1, payload: makePayload(size: 1500, compressible: false, using: &random))
        })
        try await log.close()
        let records = try directory.readAll()
        let segment = try directory.segmentPaths().last!
        var bytes = try directory.bytes(of: segment)
        bytes.replaceSubrange(512..<1024, with: repeatElement(0, count: 512))
        try directory.replace(segment, with: bytes)
        let reopened = try directory.open(segmentSizeBytes: 64 << 10)
        #expect(reopened.tornTail?.offset == records[1].location.offset)
        #expect(reopened.lastPosition == records[0].position)
        try await reopened.close()
    }
}
