@testable import AppServiceScheduler
import SegmentLog
import SegmentLogTesting
import Testing

/// Replay counts an `enqueued` or `relayed` record's items instead of decoding them
/// (``QueuedItemCounts``); it must fold to the very state the full decode gives, for records of
/// every encoding version, and refuse every payload the full decode refuses.
@Suite struct QueuedItemCountsTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func countingGivesTheStateOfTheFullDecode(version: UInt64) throws {
        let seed = 0x5EED_0000 + version
        var random = SeededRandom(seed: seed)
        var counted = SchedulerState()
        var decoded = SchedulerState()
        for index in 0..<400 {
            let (type, payload) = Self.randomRecord(version: version, using: &random)
            let stored = LogRecord(position: LogPosition(rawValue: UInt64(index + 1)), type: type.rawValue, payload: payload,
                                   location: RecordLocation(segmentFileName: "test", offset: 0, storedBytes: payload.count,
                                                            isCompressed: false))
            try counted.apply(stored)
            try decoded.apply(SchedulerRecord.decode(typeCode: stored.type, payload: stored.payload), at: stored.position)
            #expect(counted == decoded, "seed \(seed), record \(index) (\(type), version \(version))")
        }
        #expect(!(counted.services.values.allSatisfy { $0.queued.isEmpty }), "seed \(seed): nothing was queued")
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func countingRefusesWhatTheFullDecodeRefuses(version: UInt64) throws {
        let seed = 0xBAD_0000 + version
        var random = SeededRandom(seed: seed)
        for _ in 0..<100 {
            let (type, payload) = Self.randomRecord(version: version, using: &random)
            // Every truncation, and one extra byte.
            for damaged in (0..<payload.count).map({ Array(payload[..<$0]) }) + [payload + [0]] {
                let full = Result { try SchedulerRecord.decode(typeCode: type.rawValue, payload: damaged) }
                let counts = Result { try QueuedItemCounts.decode(typeCode: type.rawValue, payload: damaged) }
                #expect((try? full.get()) == nil, "seed \(seed): a damaged \(type) record decoded")
                #expect((try? counts.get()) == nil, "seed \(seed): a damaged \(type) record was counted")
            }
        }
    }

    @Test func otherRecordTypesAreNotCounted() throws {
        let record = SchedulerRecord.transactionCompleted(service: "bridge", id: 1)
        #expect(try QueuedItemCounts.decode(typeCode: record.type.rawValue, payload: record.encoded()) == nil)
    }

    /// An `enqueued` or `relayed` record as encoding `version` lays it out (docs/FORMAT.md §9):
    /// a service of a few, items of each kind the version stores (sometimes none of a kind),
    /// times either side of the epoch.
    static func randomRecord(version: UInt64, using random: inout SeededRandom) -> (RecordType, [UInt8]) {
        let type: RecordType = Bool.random(using: &random) ? .enqueued : .relayed
        var writer = BinaryWriter()
        writer.write(version)
        writer.write(["bridge", "irc", "télégramme", ""].randomElement(using: &random)!)
        if type == .relayed || version >= 2 { writer.write(signed: Int64.random(in: -1 << 40...1 << 42, using: &random)) }
        for _ in BinaryReader.kinds(version: version) {
            let count = [0, 0, 1, 2, 7].randomElement(using: &random)!
            writer.write(count)
            for _ in 0..<count {
                writer.write(bytes: (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
        }
        if type == .relayed {
            writer.write("txn" + String(Int.random(in: 0...50, using: &random)))
            writer.write(UInt64.random(in: 0...UInt64.max, using: &random))
            writer.write(UInt64.random(in: 0...UInt64.max, using: &random))
        }
        return (type, writer.bytes)
    }
}
