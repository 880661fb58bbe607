import SegmentLog
import SegmentLogTesting
import Testing

@Suite struct RoundTripTests {
    @Test(arguments: TestDisk.allCases)
    func recordsOfRandomSizesSurviveAcrossSegmentsAndReopen(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        var random = SeededRandom(seed: 1)
        var appended: [LogPosition: LogEntry] = [:]
        let log = try directory.open(segmentSizeBytes: 8192)
        for index in 0..<300 {
            let size = [0, 1, 100, 127, 128, 129, 600, 3000, 9000][index % 9]
            let entry = LogEntry(type: UInt8(index % 7),
                                 payload: makePayload(size: size, compressible: index % 2 == 0, using: &random))
            let position = try await log.append(type: entry.type, payload: entry.payload)
            appended[position] = entry
        }
        let statistics = log.statistics
        #expect(statistics.compressionRatio > 1.2)
        #expect(statistics.segmentsCreated > 10)
        try await log.close()

        let positions = appended.keys.sorted()
        #expect(positions.first == LogPosition(rawValue: 1))
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.next == $1 })
        let records = try directory.readAll()
        #expect(records.map(\.position) == positions)
        for record in records {
            #expect(record.payload == appended[record.position]!.payload)
            #expect(record.type == appended[record.position]!.type)
        }
        #expect(try directory.segmentPaths().count > 10)

        let reopened = try directory.open(segmentSizeBytes: 8192)
        #expect(reopened.tornTail == nil)
        #expect(reopened.lastPosition == positions.last)
        let next = try await reopened.append(type: 9, payload: [9])
        #expect(next == positions.last!.next)
        try await reopened.close()
        #expect(try directory.readAll().map(\.position) == positions + [next])
    }

    @Test(arguments: TestDisk.allCases)
    func readingFromAPositionSkipsEarlierSegments(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 1024)
        for index in 0..<100 {
            _ = try await log.append(type: 1, payload: Array("record \(index) ".utf8) + [UInt8](repeating: 0xAB, count: 50))
        }
        var cursor = try log.records(from: LogPosition(rawValue: 77))
        var positions: [UInt64] = []
        while let record = try cursor.next() { positions.append(record.position.rawValue) }
        #expect(positions == Array(77...100))
        try await log.close()
    }

    @Test(arguments: TestDisk.allCases)
    func batchAppendGetsConsecutivePositions(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open()
        let entries = (0..<100).map { LogEntry(type: 2, payload: Array("event \($0)".utf8)) }
        let range = try await log.append(contentsOf: entries)
        #expect(range == LogPosition(rawValue: 1)...LogPosition(rawValue: 100))
        try await log.close()
        #expect(try directory.readAll().map(\.payload) == entries.map(\.payload))
    }

    @Test func oversizedRecordIsRefusedAndNothingIsWritten() async throws {
        let directory = TestDirectory(.simulated)
        var configuration = directory.configuration()
        configuration.recordBytesMax = 1000
        let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        await #expect(throws: SegmentLogError.recordTooLarge(bytes: 1001, max: 1000)) {
            try await log.append(type: 1, payload: [UInt8](repeating: 1, count: 1001))
        }
        #expect(log.lastPosition == .start)
        try await log.close()
    }

    @Test func appendAfterCloseThrows() async throws {
        let log = try TestDirectory(.simulated).open()
        try await log.close()
        await #expect(throws: SegmentLogError.closed) { try await log.append(type: 1, payload: []) }
    }
}
