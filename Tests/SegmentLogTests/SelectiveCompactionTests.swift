import SegmentLog
import SegmentLogTesting
import Testing

/// `compact(before:keeping:)`: live records stay readable at their positions, the rest below the
/// floor leaves, mostly-live segments stay untouched, the chain still checks, and a crash before
/// any disk operation leaves a log that replays from the floor and reads every live record.
@Suite struct SelectiveCompactionTests {
    static let segmentSizeBytes = 1024

    /// A log of `count` records of 100 incompressible bytes (about 8 to a segment).
    static func makeLog(_ directory: TestDirectory, count: Int = 120) async throws -> (SegmentLog, [LogPosition: [UInt8]]) {
        let log = try directory.open(segmentSizeBytes: segmentSizeBytes)
        var random = SeededRandom(seed: 7)
        var payloads: [LogPosition: [UInt8]] = [:]
        for _ in 0..<count {
            let payload = makePayload(size: 100, compressible: false, using: &random)
            payloads[try await log.append(type: 2, payload: payload)] = payload
        }
        return (log, payloads)
    }

    /// The first position of the segment holding `floor`: compaction keeps every record from
    /// there on, since that segment is no candidate (it holds records at or after the floor).
    static func keptFrom(_ floor: LogPosition, _ directory: TestDirectory) throws -> LogPosition {
        let records = try directory.readAll()
        let segment = try #require(records.first { $0.position == floor }).location.segmentFileName
        return try #require(records.first { $0.location.segmentFileName == segment }).position
    }

    /// Checks that exactly `live` and the records from `keptFrom` on are readable, by position
    /// and by a cursor from the log's start (which also checks the chain).
    static func expectKept(_ log: SegmentLog, _ directory: TestDirectory, payloads: [LogPosition: [UInt8]],
                           live: Set<LogPosition>, keptFrom: LogPosition) throws {
        for (position, payload) in payloads {
            if position >= keptFrom || live.contains(position) {
                #expect(try log.record(at: position).payload == payload, "record \(position)")
            } else {
                #expect(throws: SegmentLogError.self, "dropped record \(position)") { try log.record(at: position) }
            }
        }
        let expected = payloads.keys.filter { $0 >= keptFrom || live.contains($0) }.sorted()
        #expect(try directory.readAll().map(\.position).filter { payloads[$0] != nil } == expected)
    }

    @Test(arguments: TestDisk.allCases)
    func compactionKeepsExactlyTheLiveRecordsAtTheirPositions(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, payloads) = try await Self.makeLog(directory)
        let floor = LogPosition(rawValue: 100)
        let keptFrom = try Self.keptFrom(floor, directory)
        let live = stride(from: 3, to: 100, by: 10).map { LogPosition(rawValue: UInt64($0)) }
        let segmentsBefore = try directory.segmentPaths().count
        let report = try #require(try await log.compact(before: floor, keeping: live))
        #expect(log.replayFloor == floor)
        #expect(report.floor == floor && report.segmentsReplaced > 1 && report.segmentsWritten == 1)
        #expect(report.segmentsKept == 0 && report.recordsAfter <= live.count, "\(report)")
        #expect(report.bytesWritten < report.bytesBefore / 3)
        #expect(try directory.segmentPaths().count == segmentsBefore - report.segmentsReplaced + report.segmentsWritten)
        try Self.expectKept(log, directory, payloads: payloads, live: Set(live), keptFrom: keptFrom)
        // Appends go on after a compaction, and read back by position.
        let next = try await log.append(type: 3, payload: [1, 2, 3])
        #expect(try log.record(at: next).payload == [1, 2, 3])
        try await log.close()

        var replayed: [LogPosition] = []
        let reopened = try SegmentLog.open(directory: directory.path,
                                           configuration: directory.configuration(segmentSizeBytes: Self.segmentSizeBytes)) {
            replayed.append($0.position)
        }
        #expect(reopened.replayFloor == floor)
        #expect(replayed == payloads.keys.filter { $0 >= floor }.sorted() + [next], "open replays from the floor")
        try Self.expectKept(reopened, directory, payloads: payloads, live: Set(live), keptFrom: keptFrom)
        #expect(try LogReader(directory: directory.path, fileSystem: directory.fileSystem).replayFloor == floor)
        try await reopened.close()
    }

    @Test(arguments: TestDisk.allCases)
    func aSegmentMoreThanAThirdLiveIsKeptByteForByte(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, payloads) = try await Self.makeLog(directory)
        let records = try directory.readAll()
        let secondSegment = try directory.segmentPaths()[1]
        let inSecond = records.filter { directory.path + "/" + $0.location.segmentFileName == secondSegment }
        // Half of the second segment's records: more than a third of its bytes.
        let live = inSecond.map(\.position).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let intact = try directory.bytes(of: secondSegment)
        let floor = LogPosition(rawValue: 100)
        let keptFrom = try Self.keptFrom(floor, directory)
        let report = try #require(try await log.compact(before: floor, keeping: live))
        #expect(report.segmentsKept == 1 && report.segmentsWritten == 2, "\(report)")
        #expect(try directory.bytes(of: secondSegment) == intact)
        try Self.expectKept(log, directory, payloads: payloads,
                            live: Set(inSecond.map(\.position)), keptFrom: keptFrom)
        try await log.close()
    }

    @Test(arguments: TestDisk.allCases)
    func runsOfDeadSegmentsLeaveAChainThatStillDetectsAMissingSegment(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, payloads) = try await Self.makeLog(directory)
        let kept = try directory.segmentPaths()[2]
        let inKept = try directory.readAll().filter { directory.path + "/" + $0.location.segmentFileName == kept }.map(\.position)
        let floor = LogPosition(rawValue: 100)
        let keptFrom = try Self.keptFrom(floor, directory)
        let report = try #require(try await log.compact(before: floor, keeping: inKept))
        #expect(report.segmentsKept == 1 && report.segmentsWritten == 2, "\(report)")
        try Self.expectKept(log, directory, payloads: payloads, live: Set(inKept), keptFrom: keptFrom)
        try await log.close()
        let verified = try LogVerifier(directory: directory.path, fileSystem: directory.fileSystem).run { _ in }
        #expect(!verified.hasErrors, "\(verified.problems)")

        // Reopening and compacting again with the same floor writes nothing new.
        let reopened = try directory.open(segmentSizeBytes: Self.segmentSizeBytes)
        let again = try await reopened.compact(before: floor, keeping: inKept)
        #expect(again.map { $0.segmentsWritten == 0 && $0.bytesWritten == 0 } ?? true, "\(String(describing: again))")
        try await reopened.close()

        try directory.remove(kept)
        #expect(throws: SegmentLogError.self) { try directory.readAll() }
        #expect(throws: SegmentLogError.self) { _ = try directory.open(segmentSizeBytes: Self.segmentSizeBytes) }
    }

    @Test(arguments: TestDisk.allCases)
    func compactingEverythingDeadLeavesOneEmptyCompactedSegment(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, payloads) = try await Self.makeLog(directory)
        let floor = LogPosition(rawValue: 110)
        let keptFrom = try Self.keptFrom(floor, directory)
        let report = try #require(try await log.compact(before: floor, keeping: []))
        #expect(report.segmentsWritten == 1 && report.recordsAfter == 0 && report.segmentsKept == 0, "\(report)")
        // Flags 3 (compacted, dropped below floor): a build without the floor refuses the log.
        let compacted = try directory.bytes(of: try directory.segmentPaths()[0])
        #expect(compacted.count == SegmentHeader.byteCount && compacted[SegmentHeader.flagsOffset] == 3)
        try Self.expectKept(log, directory, payloads: payloads, live: [], keptFrom: keptFrom)
        try await log.close()
        let reopened = try directory.open(segmentSizeBytes: Self.segmentSizeBytes)
        #expect(reopened.replayFloor == floor)
        try await reopened.close()
    }

    @Test(arguments: TestDisk.allCases)
    func recordAtReadsActiveSealedAndCompactedSegmentsAndNamesMissingPositions(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, payloads) = try await Self.makeLog(directory)
        let last = log.lastPosition
        // Active segment, then sealed ones (several positions per segment, out of order).
        for raw in [last.rawValue, 1, 57, 2, 119, 8, 9, 64, 63] {
            let position = LogPosition(rawValue: raw)
            #expect(try log.record(at: position).payload == payloads[position], "record \(position)")
        }
        let everyThird = stride(from: 1, through: last.rawValue, by: 3).map { LogPosition(rawValue: $0) }
        let everyThirdRead = try log.records(at: everyThird)
        #expect(everyThirdRead.map(\.payload) == everyThird.map { payloads[$0]! })
        let reader = try LogReader(directory: directory.path, fileSystem: directory.fileSystem)
        #expect(try reader.record(at: LogPosition(rawValue: 42)).payload == payloads[LogPosition(rawValue: 42)])
        #expect(throws: SegmentLogError.noRecord(position: last.next, reason: "the log in \(directory.path) runs from 1 to \(last), replayed from \(log.replayFloor)")) {
            try log.record(at: last.next)
        }
        #expect(throws: SegmentLogError.self) { try log.record(at: .start) }

        _ = try #require(try await log.compact(before: LogPosition(rawValue: 100), keeping: [LogPosition(rawValue: 5)]))
        let compacted = try log.record(at: LogPosition(rawValue: 5))
        #expect(compacted.payload == payloads[LogPosition(rawValue: 5)])
        #expect(try directory.readAll().first?.location == compacted.location)
        do {
            _ = try log.record(at: LogPosition(rawValue: 6))
            Issue.record("a dropped record was read")
        } catch SegmentLogError.noRecord(let position, let reason) {
            #expect(position == LogPosition(rawValue: 6) && !reason.isEmpty)
        }
        // A batch across compacted, kept and active segments; a dropped position in it is named.
        let batch = [5, 100, 101, 118, Int(last.rawValue)].map { LogPosition(rawValue: UInt64($0)) }
        let batchRead = try log.records(at: batch)
        #expect(batchRead.map(\.payload) == batch.map { payloads[$0]! })
        do {
            _ = try log.records(at: [5, 6, 101].map { LogPosition(rawValue: $0) })
            Issue.record("a batch with a dropped record was read")
        } catch SegmentLogError.noRecord(let position, _) {
            #expect(position == LogPosition(rawValue: 6))
        }
        // A reader made before the compaction re-lists the segments it finds replaced.
        #expect(try reader.record(at: LogPosition(rawValue: 5)).payload == payloads[LogPosition(rawValue: 5)])
        try await log.close()
    }

    @Test(arguments: TestDisk.allCases)
    func aDamagedFloorFileOrAFloorPastTheLogStopsOpen(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let (log, _) = try await Self.makeLog(directory, count: 20)
        _ = try await log.compact(before: LogPosition(rawValue: 15), keeping: [])
        try await log.close()
        let floorPath = directory.path + "/" + ReplayFloor.fileName
        var damaged = try directory.bytes(of: floorPath)
        #expect(damaged == ReplayFloor.encoded(LogPosition(rawValue: 15)))
        damaged[13] ^= 1
        try directory.replace(floorPath, with: damaged)
        do {
            _ = try directory.open(segmentSizeBytes: Self.segmentSizeBytes)
            Issue.record("a damaged floor file was accepted")
        } catch SegmentLogError.corruptFloor(let file, let reason) {
            #expect(file == floorPath && reason.contains("checksum"))
        }
        #expect(throws: SegmentLogError.self) { _ = try LogReader(directory: directory.path, fileSystem: directory.fileSystem) }

        try directory.replace(floorPath, with: ReplayFloor.encoded(LogPosition(rawValue: 21)))
        #expect(throws: SegmentLogError.floorBeyondLog(file: floorPath, floor: LogPosition(rawValue: 21),
                                                       lastPosition: LogPosition(rawValue: 20))) {
            _ = try directory.open(segmentSizeBytes: Self.segmentSizeBytes)
        }
    }

    /// The power fails before each disk operation of an open and compaction in turn. Every time,
    /// the log opens, replays from the floor if the floor file became durable (from the start
    /// otherwise, with nothing dropped), and reads every live record at its position.
    @Test(arguments: 0..<2)
    func aCrashBeforeAnyDiskOperationOfACompactionLosesNoLiveRecord(seed: UInt64) async throws {
        let directory = TestDirectory(.simulated)
        let (log, payloads) = try await Self.makeLog(directory)
        try await log.close()
        let original = try #require(directory.simulated)
        let floor = LogPosition(rawValue: 100)
        var random = SeededRandom(seed: seed)
        let live = payloads.keys.filter { $0 < floor && Int.random(in: 0..<5, using: &random) == 0 }.sorted()
        let all = payloads.keys.sorted()

        var step = 0
        var completed = false
        while !completed {
            let disk = original.clone()
            disk.inject(.crash(after: step, seed: seed &+ UInt64(step)))
            var configuration = directory.configuration(segmentSizeBytes: Self.segmentSizeBytes)
            // The crashing process sees the disk only until the power fails.
            configuration.fileSystem = disk.processView()
            let crashing = try? SegmentLog.open(directory: directory.path, configuration: configuration)
            _ = try? await crashing?.compact(before: floor, keeping: live)
            try? await crashing?.close()
            completed = !disk.disarmFaults().isEmpty
            configuration.fileSystem = disk

            let context = "seed \(seed), crash before disk operation \(step)"
            var replayed: [LogPosition] = []
            let reopened = try SegmentLog.open(directory: directory.path, configuration: configuration) {
                replayed.append($0.position)
            }
            if reopened.replayFloor == floor {
                #expect(replayed == all.filter { $0 >= floor }, "\(context)")
            } else {
                #expect(reopened.replayFloor == LogPosition(rawValue: 1), "\(context)")
                #expect(replayed == all, "\(context): records dropped before the floor was durable")
            }
            for position in live + all.filter({ $0 >= floor }) {
                #expect(try reopened.record(at: position).payload == payloads[position], "\(context): record \(position)")
            }
            try await reopened.close()
            step += 1
            try #require(step < 500, "compaction never completed")
        }
        #expect(step > 10, "the crash points cover the compaction's steps")
    }
}

/// `record(at:)` beside a live writer and repeated compactions: every read returns the record
/// appended at that position, or, for a record below the floor that is not live, nothing.
@Suite struct RecordAtConcurrencyTests {
    /// Every third position stays live for good; the others leave once below a floor.
    static func isLive(_ position: LogPosition) -> Bool { position.rawValue % 3 == 0 }

    static func payload(_ position: LogPosition) -> [UInt8] {
        Array("record \(position.rawValue) ".utf8) + [UInt8](repeating: 7, count: 60)
    }

    @Test(arguments: TestDisk.allCases)
    func readsByPositionStayCorrectBesideAppendsAndCompactions(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let log = try directory.open(segmentSizeBytes: 2048)
        for index in 1...200 { _ = try await log.append(type: 1, payload: Self.payload(LogPosition(rawValue: UInt64(index)))) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for _ in 0..<8 {
                    for _ in 0..<50 {
                        _ = try await log.append(type: 1, payload: Self.payload(log.lastPosition.next))
                    }
                    let floor = log.lastPosition
                    let live = (1..<floor.rawValue).map { LogPosition(rawValue: $0) }.filter(Self.isLive)
                    _ = try await log.compact(before: floor, keeping: live)
                }
            }
            group.addTask {
                var random = SeededRandom(seed: 3)
                for _ in 0..<3000 {
                    let position = LogPosition(rawValue: UInt64.random(in: 1...log.lastPosition.rawValue, using: &random))
                    let floor = log.replayFloor
                    do {
                        let record = try log.record(at: position)
                        #expect(record.payload == Self.payload(position), "record \(position)")
                    } catch SegmentLogError.noRecord {
                        // Only a record that compaction may have dropped can be missing.
                        #expect(!Self.isLive(position) && position < log.replayFloor, "record \(position) missing (floor \(floor))")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.replayFloor > LogPosition(rawValue: 200))
        try await log.close()
    }
}
