import Foundation
import SegmentLog
import SegmentLogTesting
import Testing

/// The committed logs in Fixtures/segmentlog: read by today's code, and byte-identical to what
/// today's code writes (a golden test of the format).
@Suite struct FixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/segmentlog").path

    /// A writable copy of one fixture, since opening for writing may cut a torn tail.
    func copy(_ name: String) throws -> TestDirectory {
        let directory = TestDirectory(.real)
        try FileManager.default.copyItem(atPath: Self.root + "/" + name, toPath: directory.path)
        return directory
    }

    @Test func cleanFixtureReadsEveryRecord() throws {
        let directory = try copy("clean")
        let records = try directory.readAll()
        #expect(records.map(\.position.rawValue) == Array(1...UInt64(LogFixtures.recordCount)))
        #expect(records.map(\.payload) == (1...LogFixtures.recordCount).map(LogFixtures.payload(at:)))
        #expect(records.contains { $0.location.isCompressed })
    }

    @Test func tornTailFixtureIsCutAndReported() async throws {
        let directory = try copy("torn-tail")
        let log = try directory.open(segmentSizeBytes: LogFixtures.segmentSizeBytes)
        let tail = try #require(log.tornTail)
        let cleanLastSegment = try FileManager.default.attributesOfItem(atPath: Self.root + "/clean/0000000000000005.seg")[.size] as! Int
        #expect(tail.segmentFileName == "0000000000000005.seg" && tail.offset == cleanLastSegment
                && tail.discardedBytes == LogFixtures.tornTailBytes)
        #expect(log.lastPosition == LogPosition(rawValue: UInt64(LogFixtures.recordCount)))
        try await log.close()
    }

    @Test func corruptMiddleFixtureIsRefusedWithFileAndOffset() throws {
        let directory = try copy("corrupt-middle")
        #expect(throws: SegmentLogError.corruptFrame(
            file: directory.path + "/0000000000000002.seg", offset: SegmentHeader.byteCount,
            reason: "checksum mismatch: frame says 0x" + storedChecksum(directory) + ", contents give 0x" + computedChecksum(directory)
                + " (in a sealed segment, where no write was in progress)")) {
            _ = try directory.open(segmentSizeBytes: LogFixtures.segmentSizeBytes)
        }
    }

    @Test func missingSegmentFixtureIsRefused() throws {
        let directory = try copy("missing-segment")
        let error = #expect(throws: SegmentLogError.self) { _ = try directory.open() }
        guard case .brokenChain(let file, _, _) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(file == directory.path + "/0000000000000003.seg")
    }

    @Test func todaysCodeWritesTheSameBytes() async throws {
        let disk = SimulatedFileSystem()
        try await LogFixtures.write(to: "/fixtures", fileSystem: disk)
        for name in LogFixtures.names {
            let committed = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/" + name).sorted()
            #expect(try disk.contentsOfDirectory(at: "/fixtures/" + name) == committed, "\(name)")
            for file in committed {
                let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + name + "/" + file)))
                #expect(disk.contents(of: "/fixtures/" + name + "/" + file) == expected,
                        "\(name)/\(file) differs: the format changed; bump the version or run tools/make-fixtures")
            }
        }
    }

    private func frameChecksums(_ directory: TestDirectory) throws -> (stored: UInt32, computed: UInt32) {
        let bytes = try directory.bytes(of: directory.path + "/0000000000000002.seg")
        let frame = SegmentHeader.byteCount
        let checksum = frame + FrameHeader.checksumOffset
        let payloadStart = frame + FrameHeader.byteCount
        let length = Int(bytes[frame + FrameHeader.storedLengthOffset]) | Int(bytes[frame + FrameHeader.storedLengthOffset + 1]) << 8
        let stored = bytes[checksum..<checksum + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let payload = Array(bytes[payloadStart..<payloadStart + length])
        let computed = CRC32CReference.checksum(Array(bytes[frame..<checksum]), seed: CRC32CReference.checksum(payload, seed: 0))
        return (stored, computed)
    }

    private func storedChecksum(_ directory: TestDirectory) -> String {
        hexDigits((try? frameChecksums(directory).stored) ?? 0)
    }

    private func computedChecksum(_ directory: TestDirectory) -> String {
        hexDigits((try? frameChecksums(directory).computed) ?? 0)
    }

    private func hexDigits(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// A bit-at-a-time CRC-32C, independent of the implementation under test.
enum CRC32CReference {
    static func checksum(_ bytes: [UInt8], seed: UInt32) -> UInt32 {
        var crc = ~seed
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
